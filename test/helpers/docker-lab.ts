import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { loadImages } from '../../src/transfer/load.js';
import type { Store } from '../../src/store/root.js';
import { makeTar } from './make-tar.js';
import { conformanceImages } from './shared.js';

const run = promisify(execFile);

// ../shared/conformance/docker/03-two-containers-df.txt: Docker's `system df -v` over
// eight images. Two of them ship in ../shared (lab/base, lab/features); the other six
// are those two plus one small layer each, whose sizes Docker's API reported. We
// rebuild them on the real shared layers (so chainIDs are Docker's).
const derived: { tag: string; on: 'dk-base' | 'dk-features'; bytes: number[] }[] = [
  { tag: 'lab/web-alias:2.0', on: 'dk-features', bytes: [13] },
  { tag: 'lab/worker:1.0', on: 'dk-features', bytes: [20] },
  { tag: 'lab/committed:1.0', on: 'dk-features', bytes: [63] },
  { tag: 'lab/big:1.0', on: 'dk-features', bytes: [67_108_864] },
  { tag: 'lab/tiny:1.0', on: 'dk-base', bytes: [5] },
  { tag: 'lab/empty:1.0', on: 'dk-base', bytes: [0, 12] },
];

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A docker-save archive: the base archive's layers plus new layers of the given sizes. */
async function derive(work: string, baseTar: string, tag: string, sizes: number[]): Promise<string> {
  const dir = await fs.mkdtemp(path.join(work, 'derive-'));
  await run('tar', ['-xf', baseTar, '-C', dir]);
  const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
  const config = JSON.parse(await fs.readFile(path.join(dir, manifest[0].Config), 'utf8'));
  for (const [i, size] of sizes.entries()) {
    const layer = await makeTar(size === 0 ? [] : [{ name: `etc/extra-${i}`, content: Buffer.alloc(size, 0x61 + i) }]);
    const name = `extra-${i}.tar`;
    await fs.writeFile(path.join(dir, name), layer);
    manifest[0].Layers.push(name);
    config.rootfs.diff_ids.push(`sha256:${sha(layer)}`);
    config.history = [...(config.history ?? []), { created_by: `extra ${i}` }];
  }
  const body = JSON.stringify(config);
  await fs.writeFile(path.join(dir, `${sha(body)}.json`), body);
  manifest[0].Config = `${sha(body)}.json`;
  manifest[0].RepoTags = [tag];
  await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  const out = path.join(work, `${tag.replace(/[/:]/g, '_')}.tar`);
  await run('tar', ['-cf', out, '-C', dir, 'manifest.json', manifest[0].Config, ...manifest[0].Layers]);
  return out;
}

/** Loads the eight images of the recording into `store` (callers skip when ../shared is absent). */
export async function loadDockerLab(t: ExecutionContext, store: Store): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-lab-'));
  t.teardown(() => fs.rm(work, { recursive: true, force: true }));
  const tarOf = {
    'dk-base': path.join(conformanceImages, 'dk-base.docker.tar'),
    'dk-features': path.join(conformanceImages, 'dk-features.docker.tar'),
  };
  await loadImages(store, { path: tarOf['dk-base'] });
  await loadImages(store, { path: tarOf['dk-features'] });
  for (const d of derived) await loadImages(store, { path: await derive(work, tarOf[d.on], d.tag, d.bytes) });
}
