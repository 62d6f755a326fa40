/**
 * An image's layers read the way another tool would: from `strata save`'s tar
 * (manifest.json, then each layer blob, gunzipped when it is gzip), each layer parsed
 * by layer-listing.ts.
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
  /** Each layer's entries, in archive order. */
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
