/**
 * containerd's snapshotter check (core/snapshots/testsuite/helpers.go checkSnapshots)
 * with strata's commands in the snapshotter's place. For each layer of a case:
 *
 *   create a container on the previous commit    (Prepare)   — must equal the flat dir
 *   apply the ops through the resolver, or a kernel overlay mount of the container's
 *   own directories                              (apply)     — must equal the flat dir
 *   strata commit                                (Commit)
 *
 * while the same ops go to one plain directory (the flat dir). The next layer's new
 * container is the View of each commit but the last; the last image is saved, loaded
 * into a fresh store, and a container there must equal the flat dir. Views here go
 * through the layer tars, which containerd's rename-based commit never does.
 */
import type { ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Store } from '../../src/store/root.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { containerDirs, type ContainerRecord } from '../../src/container/record.js';
import { tmpStore } from './tmp-store.js';
import { buildImage } from './image-builder.js';
import { strata, type CliResult } from './cli.js';
import { mountOverlay } from './kernel-overlay.js';
import { applyToDir, applyToView, inodesBelow, type Op } from './fs-ops.js';
import { dirManifest, viewManifest } from './fs-manifest.js';

export interface ReplayCase {
  name: string;
  /** The ops of each layer, bottom first; each layer is committed before the next container is made on it. */
  layers: Op[][];
  /** Renames (their `from`) that must fail EXDEV in a container and be done as `mv` does: lower directories. */
  exdev?: string[];
}

/** How the ops reach the container: strata's resolver, or a kernel overlay mount of its directories (root). */
export type ApplyVia = 'resolver' | 'kernel';

export const BASE_IMAGE = 'replay:base';

/** A store with an image of one empty layer: containerd's first Prepare has no parent either. */
export async function replayStore(t: ExecutionContext, format: WhiteoutFormat): Promise<{ store: Store; dir: string }> {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: format });
  const file = path.join(dir, 'base.tar');
  await fs.writeFile(file, await buildImage({ format: 'oci', repoTags: [BASE_IMAGE], layers: [[]] }));
  await loadImages(store, { path: file });
  return { store, dir };
}

export async function replayCase(t: ExecutionContext, c: ReplayCase, via: ApplyVia, format: WhiteoutFormat): Promise<void> {
  const { store, dir } = await replayStore(t, format);
  const flat = path.join(dir, 'flat');
  await fs.mkdir(flat);
  await fs.chmod(flat, 0o755);
  const fallbacks: string[] = [];
  const onFallback = (o: Op, code: string) => {
    if (o.op === 'rename') fallbacks.push(`${o.from} ${code}`);
  };
  let image = BASE_IMAGE;
  let expected = await dirManifest(flat);
  for (const [i, ops] of c.layers.entries()) {
    const at = `${c.name}, layer ${i + 1} of ${c.layers.length}`;
    const record = await createContainer(store, image, { name: `layer${i + 1}` });
    t.deepEqual(await viewManifest(await containerView(store, record)), expected, `${at}: a new container equals the flat dir`);

    const lowerInodes = await inodesBelow(flat);
    const live = await applyInContainer(store, record, ops, via, path.join(dir, `mount${i + 1}`), onFallback);
    await applyToDir(flat, ops, { lowerInodes });
    expected = await dirManifest(flat);
    t.deepEqual(live, expected, `${at}: the container after the ops equals the flat dir`);

    const committed = await strata(store.root, ['commit', record.name, `replay:${i + 1}`]);
    t.is(committed.code, 0, `${at}: commit: ${committed.stderr}`);
    t.regex(committed.stdout, /^sha256:[0-9a-f]{64}\n$/, `${at}: commit prints the image ID`);
    image = `replay:${i + 1}`;
  }
  t.deepEqual(await savedAndLoaded(t, store, image, format, dir), expected, `${c.name}: the last image saved, loaded into a fresh store`);
  t.deepEqual(
    fallbacks,
    (c.exdev ?? []).map((from) => `${from} EXDEV`),
    `${c.name}: renames of lower directories`,
  );
}

/** Applies `ops` in the container (`scratch`: a new directory for a kernel mount) and lists its tree right after. */
export function applyInContainer(
  store: Store,
  record: ContainerRecord,
  ops: Op[],
  via: ApplyVia,
  scratch: string,
  onFallback: (o: Op, code: string) => void = () => undefined,
): Promise<string[]> {
  return via === 'resolver'
    ? applyThroughResolver(store, record, ops, onFallback)
    : applyThroughKernel(store, record, ops, scratch, onFallback);
}

async function applyThroughResolver(
  store: Store,
  record: ContainerRecord,
  ops: Op[],
  onFallback: (o: Op, code: string) => void,
): Promise<string[]> {
  const view = await containerView(store, record);
  // One lock for all of a layer's ops: taking it per change is most of the time they take.
  await view.batch(() => applyToView(view, ops, { upperDir: containerDirs(store, record.id).upper, onFallback }));
  return viewManifest(view);
}

/**
 * The container's own upper, work and layer directories mounted by the kernel. The
 * lowers are named by short relative links, as Docker's overlay2 does (its `l/`
 * directory, mounted from its parent): overlayfs takes all its options in one page,
 * and 128 full layer paths do not fit in 4096 bytes.
 */
async function applyThroughKernel(
  store: Store,
  record: ContainerRecord,
  ops: Op[],
  scratch: string,
  onFallback: (o: Op, code: string) => void,
): Promise<string[]> {
  const links = path.join(scratch, 'l');
  const target = path.join(scratch, 'merged');
  await fs.mkdir(links, { recursive: true });
  await fs.mkdir(target);
  const lowerDirs: string[] = [];
  for (const [i, chainId] of [...record.layers].reverse().entries()) {
    await fs.symlink(store.paths.layerDiff(chainId), path.join(links, String(i)));
    lowerDirs.push(String(i));
  }
  const { upper, work } = containerDirs(store, record.id);
  const mount = await mountOverlay({ lowerDirs, upperDir: upper, workDir: work, target, cwd: links });
  try {
    await applyToDir(target, ops, { mvFallback: true, onFallback });
    return await dirManifest(target);
  } finally {
    await mount.unmount();
  }
}

/** `strata save` of the image, `strata load` of that file into a fresh store, and a new container's tree there. */
async function savedAndLoaded(t: ExecutionContext, store: Store, image: string, format: WhiteoutFormat, dir: string): Promise<string[]> {
  const file = path.join(dir, `${image.replace(/[^a-z0-9]/g, '-')}.tar`);
  const saved = await strata(store.root, ['save', '-o', file, image]);
  t.is(saved.code, 0, `save ${image}: ${saved.stderr}`);
  const fresh = await tmpStore(t, { whiteoutFormat: format });
  const loaded = await strata(fresh.store.root, ['load', '-q', '-i', file]);
  t.is(loaded.code, 0, `load ${image}: ${loaded.stderr}`);
  await fs.rm(file);
  const record = await createContainer(fresh.store, image);
  return viewManifest(await containerView(fresh.store, record));
}

export interface TwoCommits {
  store: Store;
  scratch: string;
  /** The upper directory of the container that got `b`, as commit read it. */
  upper: string;
  /** `strata commit` of that container as `diff:b` (`diff:a` holds `a`). */
  commit: CliResult;
}

/** containerd's TestDiffTar shape: `a` committed as `diff:a`, then `b` in a container of it, committed as `diff:b`. */
export async function commitTwice(
  t: ExecutionContext,
  a: Op[],
  b: Op[],
  via: ApplyVia,
  format: WhiteoutFormat,
  /** Flags for the second commit. */
  flags: string[] = [],
): Promise<TwoCommits> {
  const { store, dir: scratch } = await replayStore(t, format);
  const base = await createContainer(store, BASE_IMAGE, { name: 'before' });
  await applyInContainer(store, base, a, via, path.join(scratch, 'mount-a'));
  const first = await strata(store.root, ['commit', 'before', 'diff:a']);
  if (first.code !== 0) throw new Error(`commit of the base ops failed: ${first.stderr}`);
  const changed = await createContainer(store, 'diff:a', { name: 'after' });
  await applyInContainer(store, changed, b, via, path.join(scratch, 'mount-b'));
  const commit = await strata(store.root, ['commit', ...flags, 'after', 'diff:b']);
  return { store, scratch, upper: containerDirs(store, changed.id).upper, commit };
}

/** Resolves at the start of the next wall-clock second (containerd's LayerFileupdate starts each run there). */
export function nextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000)));
}

/**
 * containerd's LayerFileupdate loop: the case 5 times, each run from a new second, so
 * that its two layers are written within one second — a same-size rewrite and a
 * chmod-only change that a size-and-mtime comparison would miss.
 */
export async function replayEachSecond(t: ExecutionContext, c: ReplayCase, via: ApplyVia, format: WhiteoutFormat): Promise<void> {
  for (let run = 1; run <= 5; run++) {
    await nextSecond();
    await replayCase(t, { ...c, name: `${c.name}, run ${run}` }, via, format);
  }
}
