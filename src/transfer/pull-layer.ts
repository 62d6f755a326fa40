import fs from 'node:fs/promises';
import { isStrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { hasBlob } from '../content/ingest.js';
import { StoreContentProvider } from '../content/provider.js';
import type { ImportPool, StageCallbacks } from '../layer/import-pool.js';
import { commitStagedLayer, type ImportedLayer, type LayerImportOptions } from '../layer/import.js';
import type { StagedLayer } from '../layer/stage.js';
import type { RegistryClient } from '../registry/client.js';
import { resumableBlob } from '../registry/blob-stream.js';
import type { RemoteDescriptor } from '../registry/manifest.js';
import { takeStagedSpool, withPullSpool } from './pull-spool.js';

type FetchOptions = Pick<LayerImportOptions, 'lease' | 'source' | 'parent' | 'diffId' | 'limits' | 'signal' | 'onProgress'> &
  Pick<StageCallbacks, 'onStart' | 'onBlobVerified'>;

/**
 * One layer into the import stage: from the store when its blob is there (the layer
 * alone was removed), else from the registry. The download is written once, to the
 * blob's spool in ingest/ (pull-spool.ts), so a pull that dies midway resumes there
 * next time; the stage hashes the same bytes, and the verified spool becomes the stored
 * blob. A spool that turns out not to hold this blob's bytes (EINTEGRITY) is dropped
 * and the layer fetched once more from the start. The bytes are read here and staged
 * on the import pool (a worker, unless the layers are small); the staged layer is
 * committed here.
 */
export async function fetchLayer(
  store: Store,
  client: RegistryClient,
  repository: string,
  layer: RemoteDescriptor,
  pool: ImportPool,
  options: FetchOptions,
): Promise<ImportedLayer> {
  const { lease, signal, onProgress, onStart, onBlobVerified, ...known } = options;
  const facts = { ...known, digest: layer.digest, size: layer.size, mediaType: layer.mediaType };
  const callbacks: StageCallbacks = {
    ...(signal ? { signal } : {}),
    ...(onProgress ? { onProgress } : {}),
    ...(onStart ? { onStart } : {}),
    ...(onBlobVerified ? { onBlobVerified } : {}),
  };
  const commit = (staged: StagedLayer) => commitStagedLayer(staged, { ...facts, store, lease });
  if (await hasBlob(store, layer.digest)) {
    const stored = await new StoreContentProvider(store).open(layer.digest);
    return commit(await pool.stageStream({ stream: stored, length: layer.size }, facts, callbacks));
  }
  const staged = await withPullSpool(store, layer.digest, async (spool) => {
    for (let attempt = 1; ; attempt++) {
      let resumed = 0;
      const stream = resumableBlob(client, repository, layer.digest, layer.size, { spool, onResumed: (bytes) => (resumed = bytes) });
      try {
        const downloaded = await pool.stageStream({ stream, length: layer.size, spool }, facts, callbacks);
        return spool === undefined ? downloaded : await takeStagedSpool(store, downloaded);
      } catch (err) {
        if (spool !== undefined && isStrataError(err, 'EINTEGRITY')) await fs.rm(spool, { force: true });
        if (!(isStrataError(err, 'EINTEGRITY') && resumed > 0 && attempt === 1)) throw err;
      }
    }
  });
  return commit(staged);
}
