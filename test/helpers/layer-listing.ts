/**
 * A committed layer as tests assert on it: the new image's top blob, decompressed
 * and parsed by hand (pax values stay bytes), one line per entry in archive order.
 */
import zlib from 'node:zlib';
import type { Store } from '../../src/store/root.js';
import { readBlob } from '../../src/content/read.js';
import { findImage } from '../../src/image/lookup.js';
import { parsePax } from './raw-tar.js';

export interface LayerEntryInfo {
  name: string;
  /** The tar typeflag: 0 file, 1 hardlink, 2 symlink, 3 char, 4 block, 5 dir, 6 fifo. */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  uname: string;
  gname: string;
  pax: Map<string, Buffer>;
  body: Buffer;
}

const field = (block: Buffer, at: number, length: number) => {
  const raw = block.subarray(at, at + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
};
const octal = (block: Buffer, at: number, length: number) => parseInt(field(block, at, length).trim() || '0', 8);

export function parseLayerTar(tar: Buffer): LayerEntryInfo[] {
  const entries: LayerEntryInfo[] = [];
  let pax = new Map<string, Buffer>();
  for (let at = 0; at + 512 <= tar.length; ) {
    const block = tar.subarray(at, at + 512);
    if (block.every((b) => b === 0)) break;
    const size = octal(block, 124, 12);
    const body = tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    const typeflag = String.fromCharCode(block[156]!);
    if (typeflag === 'x') {
      pax = parsePax(body);
      continue;
    }
    const prefix = field(block, 345, 155);
    const number = (key: string, offset: number) => (pax.has(key) ? Number(pax.get(key)!.toString()) : octal(block, offset, 8));
    entries.push({
      name: pax.get('path')?.toString('utf8') ?? (prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100)),
      typeflag,
      mode: octal(block, 100, 8),
      uid: number('uid', 108),
      gid: number('gid', 116),
      size,
      mtime: pax.has('mtime') ? Number(pax.get('mtime')!.toString()) : octal(block, 136, 12),
      linkname: pax.get('linkpath')?.toString('utf8') ?? field(block, 157, 100),
      devmajor: octal(block, 329, 8),
      devminor: octal(block, 337, 8),
      uname: field(block, 265, 32),
      gname: field(block, 297, 32),
      pax,
      body,
    });
    pax = new Map();
  }
  return entries;
}

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
export function entryLine(e: LayerEntryInfo): string {
  const head = `${e.name} ${TYPES[e.typeflag] ?? e.typeflag} ${e.mode.toString(8).padStart(4, '0')} ${e.uid}:${e.gid}`;
  if (e.typeflag === '0') return `${head} ${e.size <= 40 ? JSON.stringify(e.body.toString()) : `${e.size}B`}`;
  if (e.typeflag === '1' || e.typeflag === '2') return `${head} -> ${e.linkname}`;
  if (e.typeflag === '3' || e.typeflag === '4') return `${head} ${e.devmajor},${e.devminor}`;
  return head;
}

export async function layerLines(store: Store, image: string): Promise<string[]> {
  return parseLayerTar(await topLayerTar(store, image)).map(entryLine);
}
