import test from 'ava';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { openArchive } from '../../src/archive/open-archive.js';
import { readImages } from '../../src/archive/read-images.js';
import type { ArchiveSource } from '../../src/archive/source.js';
import { testUnless } from '../helpers/skip.js';

/**
 * Real tarballs from Docker 20.10, skopeo and umoci (see the conformance README).
 * They live beside the repository, not in it; without them these tests skip.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const imagesDir = path.join(path.resolve(repoRoot, '..', 'shared', 'conformance'), 'images');
const available = fs.existsSync(imagesDir);
const tarballs = available
  ? fs
      .readdirSync(imagesDir)
      .filter((f) => f.endsWith('.tar'))
      .sort()
  : [];

/** What each known tarball holds (config digests are shared by the docker and OCI forms). */
const expected: Record<string, { tags: string[]; layers: number; config: string }> = {
  'base.docker.tar': { tags: ['base:1.0'], layers: 1, config: 'be88202612fb331be84461f085e0075039c8a04fe21cc916b21a8f694a178e12' },
  'base.oci.tar': { tags: ['base:1.0'], layers: 1, config: 'be88202612fb331be84461f085e0075039c8a04fe21cc916b21a8f694a178e12' },
  'app.docker.tar': { tags: ['app:1.0'], layers: 2, config: '81d880b7ac0bf6c777541ce5fef83005820d57f32858b068a6dad5ed80ca28f6' },
  'app.oci.tar': { tags: ['app:1.0'], layers: 2, config: '81d880b7ac0bf6c777541ce5fef83005820d57f32858b068a6dad5ed80ca28f6' },
  'app.zstd.oci.tar': { tags: ['app:1.0'], layers: 2, config: '81d880b7ac0bf6c777541ce5fef83005820d57f32858b068a6dad5ed80ca28f6' },
  'dk-base.docker.tar': { tags: ['lab/base:1.0'], layers: 1, config: '6d171d85eb68e81e62c91f58108f9f2f5edfc2dd7f3fb4aa866afe99e8bfbc97' },
  'dk-features.docker.tar': {
    tags: ['lab/features:1.0'],
    layers: 5,
    config: 'f5330eb277eec85c46e58f138d605db2870d8300c4b80db32584bf02f50d08e0',
  },
  'dk-features.zstd.oci.tar': {
    tags: ['lab/features:1.0'],
    layers: 5,
    config: 'd0b72784fab63b0421987f4e104f060a0a7a41362ae2f44e56b0c2d5e80ef62e',
  },
};

async function sha256Of(source: ArchiveSource, name: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of source.open(name)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

// Without ../shared there are no tarballs to name the tests below after: this one stands for them.
testUnless(available ? null : `${path.relative(repoRoot, imagesDir)} is absent`)(
  'the conformance directory holds every tarball known here',
  (t) => {
    t.deepEqual(
      Object.keys(expected).filter((name) => !tarballs.includes(name)),
      [],
    );
  },
);

for (const name of tarballs) {
  test(`${name}: readImages finds the image, and every blob hashes to what names it`, async (t) => {
    const spoolDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-conformance-'));
    t.teardown(() => fsp.rm(spoolDir, { recursive: true, force: true }));
    const source = await openArchive({ path: path.join(imagesDir, name) }, { spoolDir });
    try {
      const images = await readImages(source);
      t.true(images.length >= 1);
      for (const image of images) {
        const configBytes = await sha256Of(source, image.configPath);
        t.is(image.configDigest, configBytes, 'the config is named by its digest');
        const config = (await source.readJson(image.configPath)) as { rootfs: { diff_ids: string[] } };
        t.is(config.rootfs.diff_ids.length, image.layers.length, 'one layer per diffID');
        for (const [i, layer] of image.layers.entries()) {
          t.true(source.has(layer.path));
          const digest = await sha256Of(source, layer.path);
          if (layer.digest !== undefined) t.is(digest, layer.digest, `${layer.path} matches its descriptor`);
          if (layer.size !== undefined) t.is(source.size(layer.path), layer.size);
          // docker-save layers are plain tars: their hash is the diffID itself.
          if (name.endsWith('.docker.tar')) t.is(digest, config.rootfs.diff_ids[i]!);
        }
      }
      const known = expected[name];
      if (known) {
        t.deepEqual(
          images.map((i) => [i.repoTags, i.layers.length, i.configDigest]),
          [[known.tags, known.layers, `sha256:${known.config}`]],
        );
      }
    } finally {
      await source.close();
    }
  });
}

const skopeoArchive = path.join(imagesDir, 'app.docker.tar');

testUnless(fs.existsSync(skopeoArchive) ? null : `${path.relative(repoRoot, skopeoArchive)} is absent`)(
  'skopeo docker-archive: the legacy <id>/layer.tar symlinks resolve to the layer files',
  async (t) => {
    const file = skopeoArchive;
    const source = await openArchive({ path: file }, { spoolDir: os.tmpdir() });
    try {
      const [image] = await readImages(source);
      const manifest = (await source.readJson('manifest.json')) as Array<{ Layers: string[] }>;
      t.deepEqual(
        image!.layers.map((l) => l.path),
        manifest[0]!.Layers,
      );
      // The symlinks sit in <v1 id>/layer.tar and point at ../<diffID>.tar.
      const links = [
        '03000995fed0a4be2d1f25007bafb751933a989cc97d747e4e58e26550071dc1',
        '1206a76d107328f3f9c1d4c0b8e8b1813d195b07f344888c99e64af3a124f4dc',
      ];
      for (const [i, id] of links.entries()) {
        const link = `${id}/layer.tar`;
        t.true(source.has(link));
        t.is(source.size(link), source.size(image!.layers[i]!.path));
        t.is(await sha256Of(source, link), await sha256Of(source, image!.layers[i]!.path));
      }
    } finally {
      await source.close();
    }
  },
);
