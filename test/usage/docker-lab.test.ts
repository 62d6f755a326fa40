import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { diskUsage } from '../../src/usage/df.js';
import { containerUsage } from '../../src/usage/container-usage.js';
import { humanSize } from '../../src/cli/format.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import { readDockerRecord } from '../helpers/docker-record.js';
import { makeTar } from '../helpers/make-tar.js';

const run = promisify(execFile);

// ../shared/conformance/docker/03-two-containers-df.txt: Docker's `system df -v` over
// eight images. Two of them ship in ../shared (lab/base, lab/features); the other six
// are those two plus one small layer each, whose sizes Docker's API reported. We
// rebuild them on the real shared layers (so chainIDs are Docker's), then every
// SIZE, SHARED SIZE and UNIQUE SIZE must print as Docker printed it.
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

test('system df -v sizes equal what Docker printed for the same images', async (t) => {
  const skip = sharedSkipReason();
  if (skip) { t.log(`skipped: ${skip}`); t.pass(); return; }
  const { store } = await tmpStore(t);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-lab-'));
  t.teardown(() => fs.rm(work, { recursive: true, force: true }));
  const tarOf = { 'dk-base': path.join(conformanceImages, 'dk-base.docker.tar'), 'dk-features': path.join(conformanceImages, 'dk-features.docker.tar') };
  await loadImages(store, { path: tarOf['dk-base'] });
  await loadImages(store, { path: tarOf['dk-features'] });
  for (const d of derived) await loadImages(store, { path: await derive(work, tarOf[d.on], d.tag, d.bytes) });

  // web-a writes `only-in-a\n` into lab/web's tree, as in the recording.
  const webA = await createContainer(store, 'lab/web-alias:2.0', { name: 'web-a' });
  await (await containerView(store, webA)).writeFile('/srv/a.txt', 'only-in-a\n');
  await createContainer(store, 'lab/web-alias:2.0', { name: 'web-b' });
  await createContainer(store, 'lab/big:1.0', { name: 'myapp' });

  const record = readDockerRecord('03-two-containers-df.txt').find((c) => c.command === 'docker system df -v')!;
  const dockerRows = new Map<string, string[]>();
  for (const line of record.output) {
    const cells = line.split(/ {2,}/);
    if (cells.length === 8 && cells[0]!.startsWith('lab/')) dockerRows.set(`${cells[0]}:${cells[1]}`, [cells[4]!, cells[5]!, cells[6]!, cells[7]!]);
  }
  t.is(dockerRows.size, 8);
  const usage = await diskUsage(store);
  for (const [tag, [size, shared, unique, containers]] of dockerRows) {
    const ours = usage.images.find((i) => i.repoTags.includes(tag));
    t.truthy(ours, tag);
    t.deepEqual([humanSize(ours!.size), humanSize(ours!.sharedSize), humanSize(ours!.uniqueSize), String(ours!.containers)], [size, shared, unique, containers], tag);
  }
  t.is((await containerUsage(store, webA)).sizeRw, 10, 'web-a: Docker\'s SIZE 10B');
  const api = readDockerRecord('03-two-containers-df.txt').find((c) => c.command.includes('/system/df'))!;
  const layersSize = Number(/"LayersSize": (\d+)/.exec(api.output.join('\n'))![1]);
  t.is(usage.layersSize, layersSize, 'the bytes of all distinct layers, as Docker\'s API reports them');
  // Docker's summary row: `Images 8 2 69.09MB 1.984MB (2%)`.
  const summary = readDockerRecord('03-two-containers-df.txt').find((c) => c.command === 'docker system df')!;
  const imagesRow = summary.output.find((l) => l.startsWith('Images'))!.split(/ {2,}/);
  const images = usage.summary[0]!;
  t.deepEqual([String(images.total), String(images.active), humanSize(images.size), `${humanSize(images.reclaimable)} (${Math.floor((100 * images.reclaimable) / images.size)}%)`], imagesRow.slice(1));
});
