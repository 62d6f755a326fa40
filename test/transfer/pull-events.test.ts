import fs from 'node:fs/promises';
import path from 'node:path';
import { pullImage, type PullEvent } from '../../src/transfer/pull.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import { pushWithSkopeo, registrySkipReason, skopeoSkipReason, startRegistry } from '../helpers/registry.js';

const maybe = testUnless(firstReason(await registrySkipReason(), await skopeoSkipReason(), sharedSkipReason()));
const APP = path.join(conformanceImages, 'app.oci.tar');
// app.oci.tar's layers, bottom first, with their blob sizes.
const LAYERS = { '569eefd614ca': 10_571_274, '52d0cb720b12': 440 };
const BIG = 'sha256:569eefd614caf0f5ed4ea1277c3f73aff587bc2770c5040b6bd3bf9b5b9440bc';

/**
 * A layer's events, condensed: progress as one entry, `all bytes` once the count
 * reached the blob's size (and never more progress after that).
 */
function lifeOf(events: PullEvent[], id: string): string[] {
  const life: string[] = [];
  for (const e of events) {
    if (e.type === 'layers' || e.id !== id) continue;
    const step = e.type === 'layer-progress' ? (e.done >= LAYERS[id as keyof typeof LAYERS] ? 'all bytes' : 'some bytes') : e.type;
    if (life.at(-1) !== step) life.push(step);
  }
  return life;
}

for (const importWorkers of [1, 2]) {
  maybe(
    `each layer's events come in Docker's order: start, bytes, verified after the last byte, done (${importWorkers === 1 ? 'on this thread' : 'on import workers'})`,
    async (t) => {
      const registry = await startRegistry(t, 'open');
      await pushWithSkopeo(registry, APP, 'app:1.0');
      const { store } = await tmpStore(t);
      const events: PullEvent[] = [];
      await pullImage(store, `${registry.host}/app:1.0`, { importWorkers, onEvent: (e) => events.push(e) });
      t.deepEqual(lifeOf(events, '569eefd614ca'), ['layer-start', 'some bytes', 'all bytes', 'layer-verified', 'layer-done']);
      // The small layer comes in one chunk.
      t.deepEqual(lifeOf(events, '52d0cb720b12'), ['layer-start', 'all bytes', 'layer-verified', 'layer-done']);
    },
  );
}

maybe('a layer whose blob does not match its digest never says it was verified', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP, 'app:1.0');
  const { store } = await tmpStore(t);
  // The pull's resume spool holds the blob's first bytes, one of them wrong: the read
  // that starts there must not match, and the blob is fetched again from byte 0.
  const blob = await fetch(`http://${registry.host}/v2/app/blobs/${BIG}`);
  const prefix = Buffer.from(await blob.arrayBuffer()).subarray(0, 100_000);
  prefix[50_000] = prefix[50_000]! ^ 0xff;
  await fs.mkdir(store.paths.ingestDir, { recursive: true });
  await fs.writeFile(store.paths.pullSpool(BIG), prefix);
  const events: PullEvent[] = [];
  await pullImage(store, `${registry.host}/app:1.0`, { onEvent: (e) => events.push(e) });
  t.deepEqual(lifeOf(events, '569eefd614ca'), [
    'layer-start',
    'some bytes',
    'all bytes',
    // No layer-verified: the bytes were not the blob; the second read from byte 0 is.
    'layer-start',
    'some bytes',
    'all bytes',
    'layer-verified',
    'layer-done',
  ]);
});
