import fs from 'node:fs/promises';
import { isStrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { hasBlob } from '../content/ingest.js';
import { StoreContentProvider } from '../content/provider.js';
import { importLayer, type ImportedLayer, type LayerImportOptions } from '../layer/import.js';
import type { RegistryClient } from '../registry/client.js';
import { resumableBlob } from '../registry/blob-stream.js';
import type { RemoteDescriptor } from '../registry/manifest.js';

type FetchOptions = Omit<LayerImportOptions, 'store' | 'digest' | 'size' | 'mediaType'>;

/**
 * One layer into the import stage: from the store when its blob is there (the layer
 * alone was removed), else from the registry through a spool in ingest/, so a pull
 * that dies midway resumes there next time. A spool that turns out not to hold this
 * blob's bytes (EINTEGRITY) is dropped and the layer fetched once more from the start.
 */
export async function fetchLayer(
  store: Store,
  client: RegistryClient,
  repository: string,
  layer: RemoteDescriptor,
  options: FetchOptions,
): Promise<ImportedLayer> {
  const importOptions = { ...options, store, digest: layer.digest, size: layer.size, mediaType: layer.mediaType };
  if (await hasBlob(store, layer.digest)) return importLayer(await new StoreContentProvider(store).open(layer.digest), importOptions);
  const spool = store.paths.pullSpool(layer.digest);
  for (let attempt = 1; ; attempt++) {
    let resumed = 0;
    const body = resumableBlob(client, repository, layer.digest, layer.size, { spool, onResumed: (bytes) => (resumed = bytes) });
    try {
      const imported = await importLayer(body, importOptions);
      await fs.rm(spool, { force: true });
      return imported;
    } catch (err) {
      if (isStrataError(err, 'EINTEGRITY')) await fs.rm(spool, { force: true });
      if (!(isStrataError(err, 'EINTEGRITY') && resumed > 0 && attempt === 1)) throw err;
    }
  }
}
