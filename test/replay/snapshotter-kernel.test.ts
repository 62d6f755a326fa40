/**
 * The same cases as snapshotter.test.ts with the ops made by the kernel: a real
 * overlay mount of each container's own upper, work and layer directories, so the
 * upper that commit reads is the kernel's (whiteouts as one shared 0/0 device inode,
 * trusted.overlay.opaque on re-created directories, copy-ups that break hardlinks).
 * Root only; the store is in the overlay encoding, the one the kernel writes.
 */
import test from 'ava';
import { replayCase, replayEachSecond, type ReplayCase } from '../helpers/replay.js';
import { kernelOverlaySkipReason } from '../helpers/kernel-overlay.js';
import { testUnless } from '../helpers/skip.js';
import { STRATA_CASES, FSSUITE_CASES, SNAPSHOTTER_CASES, layerFileUpdate } from './cases.js';

const maybe = testUnless(await kernelOverlaySkipReason());

const replay = test.macro({
  exec: (t, c: ReplayCase) => replayCase(t, c, 'kernel', 'overlay'),
  title: (_, c: ReplayCase) => `${c.name} replayed through a kernel overlay mount, commit, save and load`,
});

for (const c of [...SNAPSHOTTER_CASES, ...FSSUITE_CASES, ...STRATA_CASES]) maybe(replay, c);

maybe('containerd LayerFileupdate replayed 5 times, each from a new second, through a kernel overlay mount, commit, save and load', (t) =>
  replayEachSecond(t, layerFileUpdate, 'kernel', 'overlay'),
);
