import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { isStrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { hasBlob } from '../content/ingest.js';
import { StoreContentProvider } from '../content/provider.js';
import type { ImportPool, StageCallbacks } from '../layer/import-pool.js';
import { commitStagedLayer, type ImportedLayer, type LayerImportOptions } from '../layer/import.js';
import type { RegistryClient } from '../registry/client.js';
import { resumableBlob } from '../registry/blob-stream.js';
import type { RemoteDescriptor } from '../registry/manifest.js';

type FetchOptions = Pick<LayerImportOptions, 'lease' | 'source' | 'parent' | 'diffId' | 'limits' | 'signal' | 'onProgress'> &
  Pick<StageCallbacks, 'onStart' | 'onBlobVerified'>;

/**
 * One layer into the import stage: from the store when its blob is there (the layer
 * alone was removed), else from the registry through a spool in ingest/, so a pull
 * that dies midway resumes there next time. A spool that turns out not to hold this
 * blob's bytes (EINTEGRITY) is dropped and the layer fetched once more from the start.
 * The bytes are read here and staged on the import pool (a worker, unless the layers
 * are small); the staged layer is committed here.
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
  const importLayer = async (body: Readable) => {
    const staged = await pool.stageStream(body, layer.size, facts, {
      ...(signal ? { signal } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(onStart ? { onStart } : {}),
      ...(onBlobVerified ? { onBlobVerified } : {}),
    });
    return commitStagedLayer(staged, { ...facts, store, lease });
  };
  if (await hasBlob(store, layer.digest)) return importLayer(await new StoreContentProvider(store).open(layer.digest));
  const spool = store.paths.pullSpool(layer.digest);
  for (let attempt = 1; ; attempt++) {
    let resumed = 0;
    const body = resumableBlob(client, repository, layer.digest, layer.size, { spool, onResumed: (bytes) => (resumed = bytes) });
    try {
      const imported = await importLayer(body);
      await fs.rm(spool, { force: true });
      return imported;
    } catch (err) {
      if (isStrataError(err, 'EINTEGRITY')) await fs.rm(spool, { force: true });
      if (!(isStrataError(err, 'EINTEGRITY') && resumed > 0 && attempt === 1)) throw err;
    }
  }
}
