/**
 * Writes the committed fixtures with strata's own image builder: `npm run fixtures`.
 * Output is deterministic (fixed mtimes, pinned platform, uncompressed layers), so
 * running it again reproduces fixtures/demo.tar byte for byte.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { writeImage } from '../src/archive/image-builder.js';
import type { LayerEntry } from '../src/archive/layer-spec.js';
import { normalizeReference } from '../src/image/reference.js';

// dist/scripts/make-fixtures.js → the repository root is two levels up.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixturesDir = path.join(repoRoot, 'fixtures');

/** The base layer: a tiny but recognisable root file system. */
const demoBase: LayerEntry[] = [
  { path: 'bin/', type: 'dir' },
  { path: 'bin/hello', content: '#!/bin/sh\ncat /app/hello.txt\n', mode: 0o755 },
  { path: 'bin/hi', type: 'symlink', linkname: 'hello' },
  { path: 'bin/greet', type: 'symlink', linkname: '/bin/hello' },
  { path: 'etc/', type: 'dir' },
  { path: 'etc/hostname', content: 'demo\n' },
  { path: 'etc/motd', content: 'Welcome to the strata demo image.\n' },
  { path: 'etc/os-release', content: 'NAME="strata demo"\nID=strata-demo\nVERSION_ID=1\nPRETTY_NAME="strata demo 1"\n' },
  { path: 'tmp/', type: 'dir', mode: 0o1777 },
  { path: 'usr/', type: 'dir' },
  { path: 'usr/share/', type: 'dir' },
  { path: 'usr/share/doc/', type: 'dir' },
  { path: 'usr/share/doc/demo.txt', content: 'This file is part of the base layer of demo:latest.\n' },
];

/** The second layer: one change, one delete (whiteout), one addition. */
const demoTop: LayerEntry[] = [
  { path: 'app/', type: 'dir' },
  { path: 'app/hello.txt', content: 'hello from strata\n' },
  { path: 'etc/', type: 'dir' },
  { path: 'etc/hostname', content: 'demo-v2\n' },
  { path: 'etc/motd', type: 'whiteout' },
];

async function main(): Promise<void> {
  await fs.mkdir(fixturesDir, { recursive: true });
  const file = path.join(fixturesDir, 'demo.tar');
  const image = await writeImage(file, {
    format: 'docker',
    tags: [{ name: 'demo:latest', ...normalizeReference('demo:latest') }],
    platform: 'linux/amd64',
    layers: [
      { entries: demoBase, createdBy: 'ADD rootfs / # demo base' },
      { entries: demoTop, createdBy: 'COPY hello.txt /app/ && echo demo-v2 > /etc/hostname && rm /etc/motd' },
    ],
    config: { config: { WorkingDir: '/app', Cmd: ['/bin/hello'] } },
  });
  const bytes = await fs.readFile(file);
  if (bytes.length >= 64 * 1024) throw new Error(`demo.tar is ${bytes.length} bytes; the fixture must stay under 64 KiB`);
  const digest = createHash('sha256').update(bytes).digest('hex');
  process.stdout.write(`${path.relative(repoRoot, file)}: ${bytes.length} bytes, sha256 ${digest}\n`);
  process.stdout.write(`  image ID ${image.imageId}\n`);
  for (const layer of image.layers) process.stdout.write(`  layer diffID ${layer.diffId} (${layer.size} bytes)\n`);
}

await main();
