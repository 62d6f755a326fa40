import { InvalidArgumentError, type Command } from 'commander';
import type { CliContext } from './context.js';
import type { WasteCliOptions } from './waste-actions.js';

/** What the commands do (usage-actions.ts) loads when one runs, not when they are defined. */
const actions = () => import('./usage-actions.js');

const DF_CACHE_HELP = `
Container sizes are cached in containers/<id>/usage.json and measured again when
strata changed the upper dir (fs, cp), at start and stop, while the container is
running, and when a kernel overlay mount of it is seen (mounted now, or mounted
since the last measurement). A file written straight into the upper dir by other
means is not counted until one of those happens; --no-cache measures every upper.`;

export function registerUsageCommands(program: Command, ctx: CliContext): void {
  const system = program.commands.find((c) => c.name() === 'system') ?? program.command('system').description('Manage strata');
  system
    .command('df')
    .description('Show disk usage: shared, unique, per-container, and what copy-up and whiteouts cost')
    .option('-v, --verbose', 'show detailed information on space usage')
    .option(
      '--format <format>',
      "json for integer bytes, or a Go template as docker's ('{{json .}}'; with -v over .Images .Containers .Volumes)",
    )
    .option('--no-cache', "walk every container's upper dir instead of trusting its cached usage")
    .addHelpText('after', DF_CACHE_HELP)
    .action(async (opts: { verbose?: boolean; format?: string; cache: boolean }) => (await actions()).df(ctx, opts));

  program
    .command('du')
    .description('Per-layer breakdown of an image or container: visible and hidden bytes, and the upper dir')
    .argument('<name>', 'a container or an image')
    .option('--format <format>', 'json for machine-readable output, or a Go template over .Layers and .Upper')
    .option(
      '--waste',
      "dive's efficiency score and wasted bytes, the bytes that could really be reclaimed, and the paths stored more than once",
    )
    .option('-n, --top <N>', 'with --waste: rows of the path table (default 20; 0 for all; JSON has all)', toRows)
    .option('--ci', "dive's CI rules (implies --waste): print PASS or FAIL for each rule, and exit 1 when one fails")
    .option('--lowest-efficiency <ratio>', 'with --ci: fail below this efficiency score, 0 to 1, or disabled (default 0.9)')
    .option('--highest-wasted-bytes <size>', 'with --ci: fail above these wasted bytes, as 20MB or 1GiB, or disabled (default disabled)')
    .option(
      '--highest-user-wasted-percent <ratio>',
      'with --ci: fail above this share of wasted bytes in the layers above the base, 0 to 1, or disabled (default 0.1)',
    )
    .action(async (name: string, opts: WasteCliOptions) => {
      const waste = await import('./waste-actions.js');
      return waste.wantsWaste(opts) ? waste.duWaste(ctx, name, opts) : (await actions()).du(ctx, name, opts);
    });
}

/** pflag's IntVar wording for a bad number; commander hands `-n=2` over with the `=`. */
function toRows(value: string): number {
  const text = value.startsWith('=') ? value.slice(1) : value;
  if (!/^[+-]?[0-9]+$/.test(text)) throw new InvalidArgumentError(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  return Number(text);
}
