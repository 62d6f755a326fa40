import fs from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { loadImages } from '../../src/transfer/load.js';
import type { Store } from '../../src/store/root.js';
import { tmpStore } from './tmp-store.js';
import { writeImage } from './image-builder.js';
import { busyboxConfig, busyboxLayer, busyboxSkipReason } from './busybox-image.js';
import { kernelOverlaySkipReason } from './kernel-overlay.js';
import { commandSkipReason } from './tools.js';
import { firstReason } from './skip.js';
import { strataProcess, type CliResult } from './cli.js';
import { runDir } from '../../src/mount/run-dir.js';

/** Why containers cannot run here (root, runc, kernel overlayfs, a static busybox), or null. */
export async function runSkipReason(): Promise<string | null> {
  return firstReason(
    process.getuid?.() === 0 ? null : 'running containers needs root (runc and kernel overlayfs mounts)',
    await commandSkipReason('runc', ['--version'], 'runc is not installed (Debian package runc; .ci/run installs it)'),
    await kernelOverlaySkipReason(),
    await busyboxSkipReason(),
  );
}

export interface RunStore {
  store: Store;
  dir: string;
  root: string;
  /** `strata --root ROOT …args` in a child process (real stdio, signals and exit codes). */
  cli(args: string[], options?: { stdin?: Buffer; env?: NodeJS.ProcessEnv }): Promise<CliResult & { signal: NodeJS.Signals | null }>;
}

/**
 * A store in the kernel's whiteout encoding with image `bb:1` (busybox, see
 * busybox-image.ts; its config given by `config`) loaded. Every container left at
 * the end is removed with `rm -f`, which unmounts it, and the store's run directory
 * with it, before the store goes.
 */
export async function runStore(t: ExecutionContext, config: Record<string, unknown> = {}): Promise<RunStore> {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: 'overlay' });
  const archive = path.join(dir, 'bb.tar');
  await writeImage(archive, { format: 'oci', repoTags: ['bb:1'], layers: [await busyboxLayer()], config: busyboxConfig(config) });
  await loadImages(store, { path: archive });
  await fs.rm(archive);
  const root = store.root;
  const cli = (args: string[], options: { stdin?: Buffer; env?: NodeJS.ProcessEnv } = {}) => strataProcess(root, args, options);
  t.teardown(async () => {
    const ids = (await cli(['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter((l) => l !== '');
    if (ids.length > 0) await cli(['rm', '-f', ...ids]);
    // The store's run directory (mount holds, runc's state root) would outlive its temp store.
    await fs.rm(runDir(store), { recursive: true, force: true });
  });
  return { store, dir, root, cli };
}
