import type { Command } from 'commander';
import type { CliContext } from './context.js';

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
    .action(async (name: string, opts: { format?: string }) => (await actions()).du(ctx, name, opts));
}
