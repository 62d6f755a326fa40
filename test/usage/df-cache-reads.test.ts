import test from 'ava';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer } from '../../src/container/create.js';
import { containerDirs } from '../../src/container/record.js';
import { diskUsage } from '../../src/usage/df.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';
import { strata } from '../helpers/cli.js';

// The tests patch node:fs for the whole process, so they run one at a time.
// Every call that could read an upper tree: listings and the stat a walk makes of each entry.
const SYNC_CALLS = ['readdirSync', 'opendirSync', 'lstatSync', 'statSync'] as const;
const CALLBACK_CALLS = ['readdir', 'opendir', 'lstat', 'stat'] as const;
const PROMISE_CALLS = ['readdir', 'opendir', 'lstat', 'stat'] as const;

/**
 * Counts the calls above whose path lies inside one of `dirs`, for as long as `work`
 * runs. The default exports are patched and synced into the named ones, so every
 * import style is counted.
 */
async function countReads(dirs: string[], work: () => Promise<unknown>): Promise<number> {
  let count = 0;
  const inside = (p: unknown) => {
    const s = String(p);
    if (dirs.some((d) => s === d || s.startsWith(`${d}/`))) count++;
  };
  const patches: [Record<string, unknown>, string, unknown][] = [
    ...SYNC_CALLS.map((name): [Record<string, unknown>, string, unknown] => [fs as unknown as Record<string, unknown>, name, fs[name]]),
    ...CALLBACK_CALLS.map((name): [Record<string, unknown>, string, unknown] => [fs as unknown as Record<string, unknown>, name, fs[name]]),
    ...PROMISE_CALLS.map((name): [Record<string, unknown>, string, unknown] => [
      fsp as unknown as Record<string, unknown>,
      name,
      fsp[name],
    ]),
  ];
  for (const [target, name, original] of patches) {
    target[name] = (...args: unknown[]) => {
      inside(args[0]);
      return (original as (...a: unknown[]) => unknown)(...args);
    };
  }
  syncBuiltinESMExports();
  try {
    await work();
  } finally {
    for (const [target, name, original] of patches) target[name] = original;
    syncBuiltinESMExports();
  }
  return count;
}

async function storeWithUppers(t: Parameters<typeof tmpStore>[0]) {
  const { store, dir } = await tmpStore(t);
  const file = path.join(dir, 'img.tar');
  await fs.promises.writeFile(
    file,
    await buildImage({ format: 'oci', repoTags: ['img:1'], layers: [[{ path: 'etc/a.conf', content: 'a' }]] }),
  );
  await loadImages(store, { path: file });
  const uppers: string[] = [];
  for (let c = 0; c < 3; c++) {
    const record = await createContainer(store, 'img:1', { name: `c${c}` });
    const upper = containerDirs(store, record.id).upper;
    // Straight into the upper, as a process in the container would write.
    for (let d = 0; d < 5; d++) {
      fs.mkdirSync(`${upper}/data/d${d}`, { recursive: true });
      for (let f = 0; f < 20; f++) fs.writeFileSync(`${upper}/data/d${d}/f${f}`, 'x'.repeat(10 + c));
    }
    uppers.push(upper);
  }
  return { store, uppers };
}

test.serial('system df with every cache valid reads no upper directory and no upper file', async (t) => {
  const { store, uppers } = await storeWithUppers(t);
  let first: Awaited<ReturnType<typeof diskUsage>> | undefined;
  const coldReads = await countReads(uppers, async () => {
    first = await diskUsage(store);
  });
  // 3 uppers of 1 + 1 + 5 directories and 100 files each: the walk that fills the caches reads them.
  t.true(coldReads >= 3 * 106, `the first df walked the uppers (${coldReads} calls counted)`);
  t.deepEqual(
    first?.containers.map((c) => c.usage.sizeRw).sort((a, b) => a - b),
    [1000, 1100, 1200],
  );

  let second: Awaited<ReturnType<typeof diskUsage>> | undefined;
  t.is(
    await countReads(uppers, async () => {
      second = await diskUsage(store);
    }),
    0,
  );
  t.deepEqual(
    second?.containers.map((c) => c.usage),
    first?.containers.map((c) => c.usage),
  );

  let out = { code: -1, stdout: '', stderr: '' };
  t.is(
    await countReads(uppers, async () => {
      out = await strata(store.root, ['system', 'df', '-v', '--format', 'json']);
    }),
    0,
    'the CLI reads none either',
  );
  t.is(out.code, 0);
  t.is(
    JSON.parse(out.stdout).Containers.reduce((sum: number, c: { Size: number }) => sum + c.Size, 0),
    3300,
  );
});

test.serial('system df --no-cache still walks every upper', async (t) => {
  const { store, uppers } = await storeWithUppers(t);
  await diskUsage(store);
  t.true((await countReads(uppers, () => diskUsage(store, { noCache: true }))) >= 3 * 106);
});
