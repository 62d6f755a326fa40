/**
 * A store in which gc, every prune, rmi and a failed load's rollback each have
 * something to remove — what the fail-closed tests check is left alone when a store
 * directory cannot be listed.
 */
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { openStore } from '../../src/store/root.js';
import { Lease } from '../../src/store/lease.js';
import { anonymousVolumeName, ensureVolume } from '../../src/volume/volume.js';
import { loadImages } from '../../src/transfer/load.js';
import { removeImage } from '../../src/gc/remove-image.js';
import { createContainer } from '../../src/container/create.js';
import { digestHex } from '../../src/content/digest.js';
import { buildImage, buildImageWithInfo, sha256, type BuildImageOptions, type LayerEntry, type OuterEntry } from './image-builder.js';

export interface PrunableStore {
  root: string;
  /** A two-layer image whose second layer blob is corrupt: its load stores the first layer, then fails. */
  broken: {
    archive: string;
    /** What that load stores before it fails: config, manifest and first layer blob, and the first layer. */
    blobs: string[];
    chainId: string;
  };
}

const base: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/os-release', content: 'ID=prunable\n' },
];

/**
 * Builds, in `dir/store`: a tagged image (keep:1), a stopped container on an image
 * removed with --force (gone:1), an unused anonymous volume, and a blob no image
 * names that a lease of this process protects. The archive of the broken image is
 * written beside it, at `dir/broken.tar`.
 */
export async function buildPrunableStore(dir: string): Promise<PrunableStore> {
  const root = path.join(dir, 'store');
  const store = await openStore({ root, whiteoutFormat: 'oci' });
  for (const [tag, top] of [
    ['keep:1', 'keep'],
    ['gone:1', 'gone'],
  ] as const) {
    const file = path.join(dir, `${top}.tar`);
    await fs.writeFile(file, await buildImage({ format: 'oci', repoTags: [tag], layers: [base, [{ path: top, content: `${top}\n` }]] }));
    await loadImages(store, { path: file });
    await fs.rm(file);
  }
  await createContainer(store, 'gone:1', { name: 'stopped' });
  await removeImage(store, 'gone:1', { force: true });
  await ensureVolume(store, anonymousVolumeName(), { anonymous: true });
  const leased = 'leased by a load in flight\n';
  await fs.writeFile(store.paths.blob(sha256(leased)), leased, { mode: 0o444 });
  const lease = await Lease.create(store);
  await lease.add({ blobs: [sha256(leased)] });

  // Layer tars are deterministic: a second build names the same blobs, one of them now corrupt.
  const spec = {
    format: 'oci',
    repoTags: ['broken:1'],
    layers: [[{ path: 'fresh', content: 'a layer no image has\n' }], [{ path: 'second', content: 'never stored\n' }]],
  } as const satisfies BuildImageOptions;
  const { image } = await buildImageWithInfo(spec);
  const archive = path.join(dir, 'broken.tar');
  await fs.writeFile(archive, await buildImage({ ...spec, editEntries: corruptBlob(image.layers[1]!.digest) }), { mode: 0o644 });
  const first = image.layers[0]!;
  return { root, broken: { archive, blobs: [image.configDigest, image.manifestDigest, first.digest], chainId: first.diffId } };
}

/** Flips a byte near the end of the blob named `digest`, so its content no longer matches. */
function corruptBlob(digest: string) {
  return (entries: OuterEntry[]): OuterEntry[] => {
    const target = entries.find((e) => e.name === `blobs/sha256/${digestHex(digest)}`);
    if (!target) throw new Error(`no blob ${digest} in the archive`);
    const bytes = target.file ? readFileSync(target.file) : Buffer.from(target.content ?? '');
    delete target.file;
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
    target.content = bytes;
    return entries;
  };
}

/**
 * Store paths a failed load of `broken` adds and a rollback that cannot tell what
 * else needs them keeps (the layer's diff/ tree left out).
 */
export function keptByRefusedRollback(broken: PrunableStore['broken']): string[] {
  const layer = `layers/${digestHex(broken.chainId)}`;
  return [...broken.blobs.map((d) => `blobs/sha256/${digestHex(d)}`), layer, `${layer}/files.sha256`, `${layer}/layer.json`].sort();
}

/** The paths of snapshot rows in `after` but not in `before`, without layer diff/ trees. */
export function addedPaths(before: string[], after: string[]): string[] {
  return after
    .filter((row) => !before.includes(row))
    .map((row) => row.split('\t')[0]!)
    .filter((p) => !/^layers\/[^/]+\/diff(\/|$)/.test(p))
    .sort();
}
