import type { Command } from 'commander';
import type { RemoveEvent } from '../gc/remove-image.js';
import type { CliContext } from './context.js';
import { humanSize } from './format.js';
import { confirm } from './confirm.js';

// What the commands do loads inside their actions, so defining them costs nothing.
const sweep = () => import('../gc/sweep.js');
const prune = () => import('../gc/prune.js');

export function registerGcCommands(program: Command, ctx: CliContext): void {
  program
    .command('gc')
    .description('Remove unreferenced blobs and layers, and leftovers of interrupted operations')
    .option('--dry-run', 'only list what would be removed')
    .option('--grace <seconds>', 'leave leftovers younger than this (default 3600)', Number)
    .option('-q, --quiet', 'print only the total')
    .action(async (opts: { dryRun?: boolean; grace?: number; quiet?: boolean }) => {
      const store = await ctx.store();
      const [{ collectGarbage }, { dfProgress }] = await Promise.all([sweep(), import('./progress.js')]);
      const progress = dfProgress(ctx, opts.quiet);
      const report = await collectGarbage(store, {
        dryRun: opts.dryRun,
        gracePeriodMs: opts.grace === undefined ? undefined : opts.grace * 1000,
        onProgress: progress?.update,
        signal: ctx.io.signal,
      }).finally(() => progress?.stop());
      if (!opts.quiet)
        for (const item of report.removed)
          ctx.print(`${opts.dryRun ? 'Would remove' : 'Removed'} ${item.kind} ${item.name} (${humanSize(item.bytes)})`);
      ctx.print(`${opts.dryRun ? 'Would reclaim' : 'Total reclaimed space'}: ${humanSize(report.bytes)}`);
    });

  // The groups are missing when a call builds only `gc` or `system` (see COMMANDS in main.ts).
  program.commands
    .find((c) => c.name() === 'image')
    ?.command('prune')
    .description('Remove unused images')
    .option('-a, --all', 'remove all images not used by a container, not just dangling ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (opts: { all?: boolean; force?: boolean }) => {
      const what = opts.all ? 'all images without at least one container associated to them' : 'all dangling images';
      if (!opts.force && !(await confirm(ctx, `WARNING! This will remove ${what}.`))) return;
      const { pruneImages } = await prune();
      const { events, bytes } = await pruneImages(await ctx.store(), opts);
      if (events.length > 0) ctx.print(`Deleted Images:\n${imageLines(events)}\n\n`);
      ctx.print(`Total reclaimed space: ${humanSize(bytes)}`);
    });

  program.commands
    .find((c) => c.name() === 'container')
    ?.command('prune')
    .description('Remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (opts: { force?: boolean }) => {
      if (!opts.force && !(await confirm(ctx, 'WARNING! This will remove all stopped containers.'))) return;
      const { pruneContainers } = await prune();
      const { removed, bytes } = await pruneContainers(await ctx.store());
      if (removed.length > 0) ctx.print(`Deleted Containers:\n${removed.join('\n')}\n\n`);
      ctx.print(`Total reclaimed space: ${humanSize(bytes)}`);
    });

  const system = program.commands.find((c) => c.name() === 'system') ?? program.command('system').description('Manage strata');
  system
    .command('prune')
    .description('Remove stopped containers, unused images, and (with --volumes) unused volumes; then gc')
    .option('-a, --all', 'remove all unused images, not just dangling ones')
    .option('--volumes', 'prune anonymous volumes too')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (opts: { all?: boolean; volumes?: boolean; force?: boolean }) => {
      const what = [
        'all stopped containers',
        ...(opts.volumes ? ['all anonymous volumes not used by at least one container'] : []),
        opts.all ? 'all images without at least one container associated to them' : 'all dangling images',
      ];
      // docker/cli's system prune list, with a blank line before the question.
      if (!opts.force && !(await confirm(ctx, `WARNING! This will remove:\n${what.map((w) => `  - ${w}\n`).join('')}`))) return;
      const store = await ctx.store();
      const [{ collectGarbage }, { pruneContainers, pruneImages }, { pruneVolumes }] = await Promise.all([
        sweep(),
        prune(),
        import('../container/volume-use.js'),
      ]);
      const containers = await pruneContainers(store);
      const volumes = opts.volumes ? await pruneVolumes(store, false) : { removed: [], bytes: 0 };
      const images = await pruneImages(store, opts);
      const leftovers = await collectGarbage(store, { signal: ctx.io.signal });
      if (containers.removed.length > 0) ctx.print(`Deleted Containers:\n${containers.removed.join('\n')}\n\n`);
      if (volumes.removed.length > 0) ctx.print(`Deleted Volumes:\n${volumes.removed.join('\n')}\n\n`);
      if (images.events.length > 0) ctx.print(`Deleted Images:\n${imageLines(images.events)}\n\n`);
      ctx.print(`Total reclaimed space: ${humanSize(containers.bytes + volumes.bytes + images.bytes + leftovers.bytes)}`);
    });
}

function imageLines(events: RemoveEvent[]): string {
  return events.map((e) => (e.type === 'untagged' ? `untagged: ${e.ref}` : `deleted: ${e.id}`)).join('\n');
}
