import type { Command } from 'commander';
import { createContainer } from '../container/create.js';
import { containerChanges } from '../container/diff.js';
import { findContainer } from '../container/lookup.js';
import { removeContainer, restartContainer, startContainer, stopContainer } from '../container/lifecycle.js';
import { parseTmpfsFlag, parseVolumeFlag } from '../container/mount-spec.js';
import { listContainerRecords, type ContainerRecord } from '../container/record.js';
import { listImageRecords } from '../image/record.js';
import { containerUsage, type ContainerUsage } from '../usage/container-usage.js';
import type { CliContext } from './context.js';
import { ellipsis, humanDuration, humanSize, since } from './format.js';
import { eachName, printListing } from './output.js';

export function registerContainerCommands(program: Command, ctx: CliContext): void {
  const container = program.command('container').description('Manage containers');
  for (const parent of [program, container]) {
    parent.command('create').description('Create a new container')
      .argument('<image>').argument('[command...]')
      .option('--name <name>', 'assign a name to the container')
      .option('--read-only', "mount the container's root filesystem as read only")
      .option('--tmpfs <path>', 'mount a tmpfs directory (emptied on every stop)', collect, [])
      .option('-v, --volume <spec>', 'bind mount a volume: NAME:/path, /host:/path, or /path; add :ro for read-only', collect, [])
      .action(async (image: string, command: string[], opts: { name?: string; readOnly?: boolean; tmpfs: string[]; volume: string[] }) => {
        const record = await createContainer(await ctx.store(), image, {
          name: opts.name,
          readOnly: opts.readOnly === true,
          mounts: [...opts.tmpfs.map(parseTmpfsFlag), ...opts.volume.map(parseVolumeFlag)],
          command,
        });
        ctx.print(record.id);
      });
    for (const [name, verb, action] of [
      ['start', 'Start one or more stopped containers', startContainer],
      ['stop', 'Stop one or more running containers (empties their tmpfs mounts)', stopContainer],
      ['restart', 'Restart one or more containers (empties their tmpfs mounts)', restartContainer],
    ] as const) {
      parent.command(name).description(verb).argument('<container...>')
        .option('-t, --time <seconds>', 'accepted for docker compatibility; strata runs no process')
        .action(async (names: string[]) => {
          const store = await ctx.store();
          await eachName(ctx, names, async (n) => { await action(store, n); ctx.print(n); });
        });
    }
    const rmCmd = parent === program ? parent.command('rm') : parent.command('rm').alias('remove');
    rmCmd.description('Remove one or more containers').argument('<container...>')
      .option('-f, --force', 'force the removal of a running container')
      .option('-v, --volumes', 'remove anonymous volumes associated with the container')
      .action(async (names: string[], opts: { force?: boolean; volumes?: boolean }) => {
        const store = await ctx.store();
        await eachName(ctx, names, async (n) => { await removeContainer(store, n, opts); ctx.print(n); });
      });
    parent.command('diff').description("Inspect changes to files or directories on a container's filesystem")
      .argument('<container>')
      .option('--format <format>', 'json for one {"Kind","Path"} object per line')
      .action(async (name: string, opts: { format?: string }) => {
        const store = await ctx.store();
        for (const change of await containerChanges(store, await findContainer(store, name))) {
          ctx.print(opts.format === 'json' ? JSON.stringify({ Kind: change.kind, Path: change.path }) : `${change.kind} ${change.path}`);
        }
      });
    const psCmd = parent === program ? parent.command('ps') : parent.command('ls').alias('list');
    psCmd.description('List containers')
      .option('-a, --all', 'show all containers (default shows just running)')
      .option('-q, --quiet', 'only display container IDs')
      .option('--no-trunc', "don't truncate output")
      .option('-s, --size', 'display total file sizes (and, in json, copied-up and hidden bytes)')
      .option('--format <format>', 'json, table, or a Go template')
      .action((opts) => ps(ctx, opts));
  }
}

interface PsOptions { all?: boolean; quiet?: boolean; trunc: boolean; size?: boolean; format?: string }

async function ps(ctx: CliContext, opts: PsOptions): Promise<void> {
  const store = await ctx.store();
  const records = (await listContainerRecords(store))
    .filter((c) => opts.all || c.state.status === 'running')
    .sort((a, b) => b.created.localeCompare(a.created));
  // Sizes cost a walk of each upper dir: only with -s, as in docker.
  const sizes = new Map<string, { usage: ContainerUsage; virtual: number }>();
  if (opts.size && !opts.quiet) {
    const images = new Map((await listImageRecords(store)).map((i) => [i.id, i.size]));
    for (const c of records) {
      const usage = await containerUsage(store, c);
      sizes.set(c.id, { usage, virtual: usage.sizeRw + (images.get(c.image) ?? 0) });
    }
  }
  const sizeText = (c: ContainerRecord) => {
    const s = sizes.get(c.id)!;
    return `${humanSize(s.usage.sizeRw, 3)} (virtual ${humanSize(s.virtual, 3)})`;
  };
  const id = (c: ContainerRecord) => (opts.trunc ? c.id.slice(0, 12) : c.id);
  const command = (c: ContainerRecord) => {
    const text = c.command.join(' ');
    return `"${opts.trunc ? ellipsis(text, 20) : text}"`;
  };
  const headers = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'];
  printListing(ctx, records, opts, {
    headers: opts.size ? [...headers, 'SIZE'] : headers,
    row: (c) => [id(c), c.imageRef, command(c), since(c.created), containerStatus(c), '', c.name, ...(opts.size ? [sizeText(c)] : [])],
    quiet: id,
    json: (c) => ({
      ID: c.id, Names: c.name, Image: c.imageRef, ImageID: c.image, Command: command(c), CreatedAt: c.created,
      RunningFor: since(c.created), State: c.state.status, Status: containerStatus(c), Mounts: mountNames(c),
      LocalVolumes: c.mounts.filter((m) => m.type === 'volume').length,
      ...(sizes.has(c.id) ? {
        Size: sizes.get(c.id)!.usage.sizeRw, VirtualSize: sizes.get(c.id)!.virtual,
        CopiedUp: sizes.get(c.id)!.usage.copiedUp, Hidden: sizes.get(c.id)!.usage.hidden,
      } : {}),
    }),
    template: (c) => ({
      ID: id(c), Names: c.name, Image: c.imageRef, Command: command(c), CreatedAt: c.created, RunningFor: since(c.created),
      State: c.state.status, Status: containerStatus(c), Mounts: mountNames(c), Ports: '',
      LocalVolumes: String(c.mounts.filter((m) => m.type === 'volume').length),
      Size: sizes.has(c.id) ? sizeText(c) : '',
    }),
  });
}

/** Docker's STATUS column: `Created`, `Up 5 seconds`, `Exited (0) 3 minutes ago`. */
export function containerStatus(c: ContainerRecord, now = Date.now()): string {
  if (c.state.status === 'running') return `Up ${humanDuration(now - Date.parse(c.state.startedAt ?? c.created))}`;
  if (c.state.status === 'exited') return `Exited (${c.state.exitCode}) ${since(c.state.finishedAt ?? c.created, now)}`;
  return 'Created';
}

function mountNames(c: ContainerRecord): string {
  return c.mounts.map((m) => (m.type === 'volume' ? ellipsis(m.name, 15) : m.type === 'bind' ? m.source : m.destination)).join(',');
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
