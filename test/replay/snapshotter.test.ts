/**
 * containerd's snapshotter cases and continuity's FSSuite sequences through strata's
 * resolver, commit, save and load (test/helpers/replay.ts), in both whiteout encodings.
 */
import test from 'ava';
import { replayCase, replayEachSecond, type ReplayCase } from '../helpers/replay.js';
import { testInFormat } from '../helpers/both-formats.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { STRATA_CASES, FSSUITE_CASES, SNAPSHOTTER_CASES, layerFileUpdate } from './cases.js';

const notRoot = process.getuid?.() === 0 ? null : 'chown and device nodes need root';
const needsRoot = (c: ReplayCase) => c.layers.flat().some((o) => o.op === 'chown' || (o.op === 'mknod' && o.kind !== 'fifo'));

const replay = test.macro({
  exec: (t, c: ReplayCase, format: 'oci' | 'overlay') => replayCase(t, c, 'resolver', format),
  title: (_, c: ReplayCase, format: 'oci' | 'overlay') => `${c.name} replayed through the resolver, commit, save and load (${format})`,
});

for (const c of [...SNAPSHOTTER_CASES, ...FSSUITE_CASES, ...STRATA_CASES]) {
  for (const format of ['oci', 'overlay'] as const) {
    const maybe = needsRoot(c) ? testUnless(firstReason(notRoot)) : testInFormat(format);
    maybe(replay, c, format);
  }
}

test('containerd LayerFileupdate replayed 5 times, each from a new second, through the resolver, commit, save and load', (t) =>
  replayEachSecond(t, layerFileUpdate, 'resolver', 'oci'));
