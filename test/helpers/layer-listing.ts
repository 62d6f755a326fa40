/**
 * A committed layer as tests assert on it: the new image's top blob, decompressed
 * and parsed by raw-tar.ts (pax values stay bytes), one line per entry in archive order.
 */
import zlib from 'node:zlib';
import type { Store } from '../../src/store/root.js';
import { readBlob } from '../../src/content/read.js';
import { findImage } from '../../src/image/lookup.js';
import { parseTar, type RawEntry } from './raw-tar.js';

/** The uncompressed tar of an image's top layer. */
export async function topLayerTar(store: Store, image: string): Promise<Buffer> {
  const record = await findImage(store, image);
  const blob = await readBlob(store, record.layers.at(-1)!.blobDigest);
  return blob[0] === 0x1f && blob[1] === 0x8b ? zlib.gunzipSync(blob) : blob;
}

const TYPES: Record<string, string> = { '0': 'file', '1': 'link', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

/**
 * One line per entry: `name type mode uid:gid`, then what the type carries — a file's
 * content (quoted, when short), a link's target, a device's numbers.
 */
export function entryLine(e: RawEntry): string {
  const head = `${e.name} ${TYPES[e.typeflag] ?? e.typeflag} ${e.mode.toString(8).padStart(4, '0')} ${e.uid}:${e.gid}`;
  if (e.typeflag === '0') return `${head} ${e.size <= 40 ? JSON.stringify(e.body.toString()) : `${e.size}B`}`;
  if (e.typeflag === '1' || e.typeflag === '2') return `${head} -> ${e.linkname}`;
  if (e.typeflag === '3' || e.typeflag === '4') return `${head} ${e.devmajor},${e.devminor}`;
  return head;
}

export async function layerLines(store: Store, image: string): Promise<string[]> {
  return parseTar(await topLayerTar(store, image)).map(entryLine);
}
