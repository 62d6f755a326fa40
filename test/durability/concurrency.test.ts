/**
 * Eight processes on one store at once, for STRATA_CONCURRENCY_SECONDS (default 30):
 * each loads images that share layers with everyone else's, creates containers and
 * writes into them, appends to one container all of them share, removes containers
 * and images, and runs gc and check — all through the CLI's own entry point.
 */
import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadImages } from '../../src/transfer/load.js';
import { listImages } from '../../src/image/list.js';
import { imageView } from '../../src/image/view.js';
import { createContainer } from '../../src/container/create.js';
import { findContainer } from '../../src/container/lookup.js';
import { containerView } from '../../src/container/view.js';
import { listContainerRecords } from '../../src/container/record.js';
import { checkStore } from '../../src/check/check.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type LayerEntry } from '../helpers/image-builder.js';
import { envNumber } from '../helpers/crash.js';
import type { WorkerJob, WorkerReport } from '../helpers/durability-worker.js';

const SECONDS = envNumber('STRATA_CONCURRENCY_SECONDS', 30);
const WORKERS = 8;
const workerScript = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'durability-worker.js');

const base: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/os-release', content: 'ID=busy\n' },
  { path: 'usr/lib/a', size: 60_000, seed: 'a' },
  { path: 'usr/lib/b', size: 60_000, seed: 'b' },
];
const middle: LayerEntry[] = [
  { path: 'app/', type: 'dir' },
  { path: 'app/lib', size: 40_000, seed: 'mid' },
];
const top = (variant: string): LayerEntry[] => [
  { path: 'variant', content: `${variant}\n` },
  { path: 'app/note', content: variant },
  { path: 'shared.log', content: 'base\n' },
];
const VARIANTS = [
  { variant: 'k0', format: 'oci' as const, outerGzip: false },
  { variant: 'k1', format: 'docker' as const, outerGzip: false },
  { variant: 'k2', format: 'oci' as const, outerGzip: true },
];

test(`${WORKERS} processes loading, creating, writing, removing and collecting at once for ${SECONDS} s: no corruption, only documented conflicts`, async (t) => {
  const { store, dir } = await tmpStore(t);
  const tars: WorkerJob['tars'][] = [];
  for (let w = 0; w < WORKERS; w++) {
    tars.push([]);
    for (const v of VARIANTS) {
      // Same content, so the same image ID, in every worker's copy; only the tag is the worker's.
      const tag = `w${w}-${v.variant}:1`;
      const file = path.join(dir, `w${w}-${v.variant}.tar`);
      await fs.writeFile(
        file,
        await buildImage({ format: v.format, outerGzip: v.outerGzip, repoTags: [tag], layers: [base, middle, top(v.variant)] }),
      );
      tars[w]!.push({ path: file, tag, variant: v.variant });
    }
  }
  const pinnedTar = path.join(dir, 'pinned.tar');
  await fs.writeFile(pinnedTar, await buildImage({ format: 'oci', repoTags: ['pinned:1'], layers: [base, top('pinned')] }));
  await loadImages(store, { path: pinnedTar });
  await createContainer(store, 'pinned:1', { name: 'shared' });

  const deadline = Date.now() + SECONDS * 1000;
  const reports = await Promise.all(
    Array.from(
      { length: WORKERS },
      (_, w) =>
        new Promise<WorkerReport>((resolve, reject) => {
          const job: WorkerJob = { root: store.root, worker: w, deadline, tars: tars[w]!, shared: 'shared' };
          // Every load stages its layers on two import workers, as a load of big layers does.
          const child = spawn(process.execPath, [workerScript, JSON.stringify(job)], {
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, STRATA_IMPORT_WORKERS: '2' },
          });
          const out: Buffer[] = [];
          const err: Buffer[] = [];
          child.stdout.on('data', (c: Buffer) => out.push(c));
          child.stderr.on('data', (c: Buffer) => err.push(c));
          child.on('close', (code) => {
            if (code !== 0) reject(new Error(`worker ${w} exited ${code}: ${Buffer.concat(err).toString()}`));
            else resolve(JSON.parse(Buffer.concat(out).toString().trim().split('\n').pop()!) as WorkerReport);
          });
        }),
    ),
  );

  const commands = reports.reduce((n, r) => n + r.commands, 0);
  const conflicts = reports.reduce((n, r) => n + r.conflicts, 0);
  t.log(`${commands} commands in ${SECONDS} s, ${conflicts} documented conflicts (rmi of an image a container uses)`);
  t.deepEqual(
    reports.flatMap((r) => r.unexpected.map((u) => `worker ${r.worker}: strata ${u.args.join(' ')} → ${u.code}: ${u.stderr.trim()}`)),
    [],
  );
  t.true(commands >= WORKERS * 10, 'every worker got real work done');

  // The store afterwards: consistent, every surviving container and image intact.
  t.deepEqual(
    (await checkStore(store)).problems.map((p) => p.message),
    [],
  );
  for (const report of reports) {
    for (const survivor of report.containers) {
      const view = await containerView(store, await findContainer(store, survivor.name));
      for (const [file, content] of Object.entries(survivor.files))
        t.is((await view.readFile(file)).toString(), content, `${survivor.name}:${file}`);
    }
  }
  t.is((await listContainerRecords(store)).length, 1 + reports.reduce((n, r) => n + r.containers.length, 0));
  const shared = (await (await containerView(store, await findContainer(store, 'shared'))).readFile('/shared.log'))
    .toString()
    .trim()
    .split('\n');
  t.deepEqual(shared.sort(), ['base', ...reports.flatMap((r) => r.appended)].sort(), 'every append to the shared container is there, once');
  for (const image of await listImages(store)) {
    const view = await imageView(
      store,
      image.record.layers.map((l) => l.chainId),
    );
    const variant = (await view.readFile('/variant')).toString().trim();
    t.true(
      image.repoTags.every((tag) => (tag === 'pinned:1' ? variant === 'pinned' : tag.endsWith(`-${variant}:1`))),
      `${image.repoTags.join(',')} reads ${variant}`,
    );
    t.is((await view.stat('/usr/lib/b')).size, 60_000);
  }
});
