/**
 * What an image's layers hold, read the way another tool would: from `strata save`'s
 * tar (manifest.json, then each layer blob, gunzipped when it is gzip). Entries are
 * printed as containerd's TestDiffTar validators look at them: name as written, type,
 * permission bits, and the content of a file or the target of a link.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Store } from '../../src/store/root.js';
import { strata } from './cli.js';
import { parseTar, type RawEntry } from './raw-tar.js';

export interface SavedImage {
  /** manifest.json's Layers: the layer blob paths, bottom first. */
  layerPaths: string[];
  /** Each layer's tar, uncompressed. */
  layers: RawEntry[][];
}

export async function savedImage(store: Store, image: string, scratch: string): Promise<SavedImage> {
  const file = path.join(scratch, 'saved.tar');
  const saved = await strata(store.root, ['save', '-o', file, image]);
  if (saved.code !== 0) throw new Error(`save ${image}: ${saved.stderr}`);
  const outer = new Map(parseTar(await fs.readFile(file)).map((e) => [e.name, e.body]));
  await fs.rm(file);
  const manifest = JSON.parse(outer.get('manifest.json')!.toString()) as [{ Layers: string[] }];
  const layerPaths = manifest[0].Layers;
  return {
    layerPaths,
    layers: layerPaths.map((p) => {
      const blob = outer.get(p);
      if (blob === undefined) throw new Error(`${p} is named in manifest.json but not in the archive`);
      return parseTar(blob[0] === 0x1f && blob[1] === 0x8b ? zlib.gunzipSync(blob) : blob);
    }),
  };
}

const TYPES: Record<string, string> = { '0': 'file', '1': 'link', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

/** `d1/ dir 0755`, `d2/f file 0644 "ok"`, `d1/f1 link d2/l1`, `s symlink 0777 -> t`. */
export function entryLine(e: RawEntry): string {
  const type = TYPES[e.typeflag] ?? `typeflag ${JSON.stringify(e.typeflag)}`;
  if (type === 'link') return `${e.name} link ${e.linkname}`;
  const head = `${e.name} ${type} ${e.mode.toString(8).padStart(4, '0')}`;
  if (type === 'file') return `${head} ${JSON.stringify(e.body.toString('utf8'))}`;
  if (type === 'symlink') return `${head} -> ${e.linkname}`;
  return head;
}
