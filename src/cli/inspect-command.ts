import type { Command } from 'commander';
import { StrataError, isStrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import type { ContainerRecord } from '../container/record.js';
import type { CliContext } from './context.js';
import { printInspectEach } from './output.js';

type InspectType = 'container' | 'image' | 'volume';
const TYPES: InspectType[] = ['container', 'image', 'volume'];

/**
 * `docker inspect NAME`: a container by that name or ID first, then an image, then a
 * volume. Like Docker, what was found is printed even when another name was not.
 */
export function registerInspectCommand(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('Return low-level information on containers, images or volumes')
    .argument('<name...>', 'container, image or volume names or IDs')
    .option('-f, --format <format>', 'format the output using a Go template')
    .option('-s, --size', 'display total file sizes if the type is container (SizeRw, SizeRootFs)')
    .option('--type <type>', 'only look for a container, an image or a volume')
    .action(async (names: string[], opts: { format?: string; size?: boolean; type?: string }) => {
      if (opts.type !== undefined && !TYPES.includes(opts.type as InspectType)) {
        throw new StrataError('EUSAGE', `"${opts.type}" is not a valid value for --type`);
      }
      await inspectEach(ctx, names, opts.type as InspectType | undefined, opts);
    });
  // `container inspect`: containers only, as `docker container inspect`.
  const container = program.commands.find((c) => c.name() === 'container') ?? program.command('container').description('Manage containers');
  container
    .command('inspect')
    .description('Display detailed information on one or more containers')
    .argument('<container...>', 'container names or IDs')
    .option('-f, --format <format>', 'format the output using a Go template')
    .option('-s, --size', 'display total file sizes (SizeRw, SizeRootFs)')
    .action(async (names: string[], opts: { format?: string; size?: boolean }) => inspectEach(ctx, names, 'container', opts));
}

async function inspectEach(
  ctx: CliContext,
  names: string[],
  type: InspectType | undefined,
  opts: { format?: string; size?: boolean },
): Promise<void> {
  const store = await ctx.store();
  await printInspectEach(ctx, names, (name) => inspectOne(store, name, type, opts.size === true), opts.format);
}

/** State.Pid: asked of the container's runtime, and only when it is running (a runtime call costs ~10 ms). */
async function runningPid(store: Store, record: ContainerRecord): Promise<number> {
  if (record.state.status !== 'running') return 0;
  const runtime = await import('../run/runtime.js');
  return runtime.runningPid(runtime.containerRuntime(store, record), record.id);
}

async function inspectOne(store: Store, name: string, type: InspectType | undefined, size: boolean): Promise<object> {
  const notFound = (err: unknown) => isStrataError(err, 'ENOTFOUND');
  if (type === undefined || type === 'container') {
    const { findContainer } = await import('../container/lookup.js');
    const record = await findContainer(store, name).catch((err) => {
      if (notFound(err) && type === undefined) return null;
      throw err;
    });
    if (record) {
      const [{ inspectContainer }, { finishOrphans }] = await Promise.all([import('../container/inspect.js'), import('../run/orphans.js')]);
      // A run whose supervisor died is finished first (an --rm one is then gone), so State is the real one.
      const current = (await finishOrphans(store, [record]))[0] ?? (await findContainer(store, name));
      return inspectContainer(store, current, size ? await containerSize(store, current) : undefined, await runningPid(store, current));
    }
  }
  if (type === undefined || type === 'image') {
    const [{ findImage }, { inspectImage }, { readTags, tagsOf }] = await Promise.all([
      import('../image/lookup.js'),
      import('../image/inspect.js'),
      import('../image/tags.js'),
    ]);
    const image = await findImage(store, name).catch((err) => {
      if (!notFound(err)) throw err;
      if (type === 'image') throw new StrataError('ENOTFOUND', `No such image: ${name}`, { path: name });
      return null;
    });
    if (image) return inspectImage(store, image, tagsOf(await readTags(store), image.id));
  }
  const { readVolume, volumeDataDir } = await import('../volume/volume.js');
  const { volumeView } = await import('./volume-commands.js');
  const volume = await readVolume(store, name).catch((err) => {
    if (!notFound(err)) throw err;
    throw new StrataError('ENOTFOUND', type === 'volume' ? `No such volume: ${name}` : `No such object: ${name}`, { path: name });
  });
  return volumeView(volume, volumeDataDir(store, volume.name));
}

/** As `docker inspect -s`: SizeRw is the upper dir's bytes, SizeRootFs adds the image's. */
async function containerSize(
  store: Store,
  record: import('../container/record.js').ContainerRecord,
): Promise<{ sizeRw: number; sizeRootFs: number }> {
  const [{ UsageMeter }, { readImageRecord }] = await Promise.all([import('../usage/usage-meter.js'), import('../image/record.js')]);
  const usage = await new UsageMeter(store).usage(record);
  // An image `rmi -f` untagged is still there; one whose record is gone counts as 0 (`check` reports it).
  const image = await readImageRecord(store, record.image).catch(() => null);
  return { sizeRw: usage.sizeRw, sizeRootFs: usage.sizeRw + (image?.size ?? 0) };
}
