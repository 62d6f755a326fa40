import fs from 'node:fs';
import { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { ingestBlob } from '../content/ingest.js';
import { hostPlatform } from '../archive/platform.js';
import { normalizeReference } from '../image/reference.js';
import { importLayer } from '../layer/import.js';
import type { UnpackLimits } from '../layer/limits.js';
import { Lease } from '../store/lease.js';
import { rollbackCreated } from '../gc/rollback.js';
import { applyInstructions, type ContainerConfig } from '../image/commit-instructions.js';
import { publishImages, type PublishedImage } from '../image/publish.js';
import type { ImageRecord } from '../image/record.js';

/** A rootfs tarball on disk, or a stream such as stdin (`-`). */
export type ImportInput = { path: string } | { stream: Readable; displayName: string };

export interface ImportOptions {
  /** Dockerfile-syntax instructions for the image config (`-c`). */
  changes?: string[];
  /** The history comment; default `Imported from <file>` (`-` for stdin), as Docker writes it. */
  message?: string;
  /** `REPOSITORY[:TAG]` to point at the new image. */
  reference?: string;
  limits?: UnpackLimits;
  signal?: AbortSignal;
}

/**
 * `strata import`: a flat rootfs tar (plain, gzip or zstd) becomes a one-layer image,
 * as `docker import` makes one. The diffID is the sha256 of the decompressed input
 * byte for byte, trailing padding included. The config holds only what `changes` set
 * (no Env, no Cmd otherwise). On any failure what this import created is taken back.
 */
export async function importImage(store: Store, input: ImportInput, options: ImportOptions = {}): Promise<PublishedImage> {
  // Bad instructions or a bad reference fail before anything is read or written.
  const containerConfig = applyInstructions({} as ContainerConfig, options.changes ?? []);
  const repoTags = [];
  if (options.reference !== undefined) {
    const ref = normalizeReference(options.reference);
    repoTags.push(`${ref.repository}:${ref.tag}`);
  }
  const name = 'path' in input ? input.path : input.displayName;
  const lease = await Lease.create(store);
  try {
    const stream = 'path' in input ? fs.createReadStream(input.path) : input.stream;
    const imported = await importLayer(stream, {
      store,
      lease,
      source: name,
      parent: null,
      limits: options.limits,
      signal: options.signal,
    });
    const diffId = imported.layer.diffId;
    const created = new Date().toISOString();
    const platform = hostPlatform();
    const config = {
      architecture: platform.architecture,
      config: containerConfig,
      created,
      history: [{ created, comment: options.message ?? `Imported from ${name}` }],
      os: platform.os,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      ...(platform.variant ? { variant: platform.variant } : {}),
    };
    const bytes = Buffer.from(JSON.stringify(config));
    const blob = await ingestBlob(store, Readable.from([bytes]), { source: `${name}: image config` });
    await lease.add({ blobs: [blob.digest] });
    if (blob.created) lease.created.blobs.add(blob.digest);
    const record: ImageRecord = {
      id: blob.digest,
      configDigest: blob.digest,
      manifestDigest: null,
      layers: [
        {
          diffId,
          chainId: imported.layer.chainId,
          blobDigest: imported.blob.digest,
          blobMediaType: imported.blob.mediaType,
          blobSize: imported.blob.size,
          size: imported.layer.size,
        },
      ],
      size: imported.layer.size,
      created,
      loaded: created,
    };
    const [published] = await publishImages(store, [{ record, repoTags }]);
    return published!;
  } catch (err) {
    await rollbackCreated(store, lease);
    const e = err as NodeJS.ErrnoException;
    if (err instanceof Error && !(err instanceof StrataError) && typeof e.code === 'string' && !e.message.startsWith(name)) {
      e.message = `${name}: ${e.message}`;
    }
    throw err;
  } finally {
    await lease.release();
  }
}
