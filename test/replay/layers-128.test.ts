/**
 * containerd's 128LayersMount: 128 commits, each on the one before, /onlyme deleted and
 * made again (opaque) in every layer. Each new container must equal the flat dir before
 * its ops and after them; the last image is saved and loaded into a fresh store.
 * Through the resolver, and as root through kernel overlay mounts of 1 to 128 lowers
 * (named by short links, as Docker's overlay2 does, to fit overlayfs' one-page options).
 */
import test from 'ava';
import { replayCase } from '../helpers/replay.js';
import { kernelOverlaySkipReason } from '../helpers/kernel-overlay.js';
import { testUnless } from '../helpers/skip.js';
import { layers128 } from './cases.js';

const kernel = testUnless(await kernelOverlaySkipReason());

test('containerd 128LayersMount replayed through the resolver, 128 commits, save and load', (t) =>
  replayCase(t, layers128, 'resolver', 'oci'));

kernel('containerd 128LayersMount replayed through kernel overlay mounts, 128 commits, save and load', (t) =>
  replayCase(t, layers128, 'kernel', 'overlay'),
);
