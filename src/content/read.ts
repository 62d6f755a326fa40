import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';

export function blobStream(store: Store, digest: string): Readable {
  return fs.createReadStream(store.paths.blob(digest));
}

export async function readBlob(store: Store, digest: string): Promise<Buffer> {
  try {
    return await fsp.readFile(store.paths.blob(digest));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StrataError('ENOTFOUND', `blob ${digest} is missing from ${store.paths.blobsDir}`, { path: store.paths.blob(digest) });
    }
    throw err;
  }
}
