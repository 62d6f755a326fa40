import type { Command } from 'commander';
import type { VolumeRecord } from '../volume/volume.js';
import type { CliContext } from './context.js';
import { humanSize } from './format.js';
import { confirm } from './confirm.js';
import { VOLUME_HEADERS, volumeContext } from './docker-context.js';
import { eachName, printInspectEach, printListing } from './output.js';

// The volume module loads inside the actions, so defining these commands costs nothing.
const volumes = async () => ({ ...(await import('../volume/volume.js')), ...(await import('../container/volume-use.js')) });

export function registerVolumeCommands(program: Command, ctx: CliContext): void {
  const volume = program.command('volume').description('Manage volumes');
  volume
    .command('create')
    .description('Create a volume')
    .argument('[name]', 'volume name (default: a random 64-hex name, as docker volume create)')
    .action(async (name?: string) => {
      const store = await ctx.store();
      const { ensureVolume, anonymousVolumeName } = await volumes();
      const record = await ensureVolume(store, name ?? anonymousVolumeName(), { anonymous: name === undefined });
      ctx.print(record.name);
    });
  volume
    .command('ls')
    .alias('list')
    .description('List volumes')
    .option('-q, --quiet', 'only display volume names')
    .option('--format <format>', 'json, table, or a Go template')
    .action(async (opts: { quiet?: boolean; format?: string }) => {
      const store = await ctx.store();
      const { listVolumes, volumeDataDir } = await volumes();
      printListing(ctx, await listVolumes(store), opts, {
        headers: ['DRIVER', 'VOLUME NAME'],
        row: (v) => ['local', v.name],
        quiet: (v) => v.name,
        json: (v) => volumeView(v, volumeDataDir(store, v.name)),
        template: (v) => volumeContext(v, volumeDataDir(store, v.name)),
        templateOptions: { typeName: 'volume', headers: VOLUME_HEADERS },
      });
    });
  volume
    .command('inspect')
    .description('Display detailed information on one or more volumes')
    .argument('<name...>', 'volume names')
    .option('-f, --format <format>', 'format the output using a Go template')
    .action(async (names: string[], opts: { format?: string }) => {
      const store = await ctx.store();
      const { readVolume, volumeDataDir } = await volumes();
      await printInspectEach(
        ctx,
        names,
        async (name) => volumeView(await readVolume(store, name), volumeDataDir(store, name)),
        opts.format,
      );
    });
  volume
    .command('rm')
    .alias('remove')
    .description('Remove one or more volumes')
    .argument('<name...>', 'volume names')
    .option('-f, --force', 'remove even if a container uses it')
    .action(async (names: string[], opts: { force?: boolean }) => {
      const store = await ctx.store();
      const { removeVolume } = await volumes();
      await eachName(ctx, names, async (name) => {
        await removeVolume(store, name, opts);
        ctx.print(name);
      });
    });
  volume
    .command('prune')
    .description('Remove unused volumes (anonymous ones unless --all)')
    .option('-a, --all', 'remove all unused volumes, not just anonymous ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (opts: { all?: boolean; force?: boolean }) => {
      const what = opts.all ? 'all local volumes' : 'anonymous local volumes';
      if (!opts.force && !(await confirm(ctx, `WARNING! This will remove ${what} not used by at least one container.`))) return;
      const store = await ctx.store();
      const { pruneVolumes } = await volumes();
      const { removed, bytes } = await pruneVolumes(store, opts.all === true);
      if (removed.length > 0) ctx.print(`Deleted Volumes:\n${removed.join('\n')}\n\n`);
      ctx.print(`Total reclaimed space: ${humanSize(bytes)}`);
    });
}

/** Docker's volume inspect shape: a volume made without labels or options has them `null`, as Docker prints it. */
export function volumeView(v: VolumeRecord, mountpoint: string): object {
  const labels = Object.keys(v.labels ?? {}).length > 0 ? v.labels : null;
  return { CreatedAt: v.created, Driver: 'local', Labels: labels, Mountpoint: mountpoint, Name: v.name, Options: null, Scope: 'local' };
}
