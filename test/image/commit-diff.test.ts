/** `diff` and `commit` agree, and commit reads the upper dir under the container's lock. */
import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { bothFormats } from '../helpers/both-formats.js';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { layerLines, topLayerTar } from '../helpers/layer-listing.js';
import { parseTar } from '../helpers/raw-tar.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { commitContainer } from '../../src/transfer/commit.js';
import { containerChanges } from '../../src/container/diff.js';
import type { LockJob } from '../helpers/lock-worker.js';
import { containerDirs } from '../../src/container/record.js';

const workerScript = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'lock-worker.js');

const BASE: LayerInput[] = [
  [
    { path: 'bin/' },
    { path: 'bin/echo', content: 'echo\n', mode: 0o755 },
    { path: 'etc/' },
    { path: 'etc/os-release', content: 'ID=test\n' },
    { path: 'etc/shadow-like', content: 'root:*\n', mode: 0o600 },
    { path: 'etc/hostname', content: 'box\n' },
    { path: 'opt/' },
    { path: 'opt/data/' },
    { path: 'opt/data/a', content: 'a' },
    { path: 'opt/data/b', content: 'b' },
    { path: 'keep/' },
    { path: 'keep/x', content: 'x' },
    { path: 'keep/x2', type: 'hardlink', linkname: 'keep/x' },
  ],
];

bothFormats('every A, C and D line of diff has its entry in the committed layer', async (t, format) => {
  const { store, record, view } = await containerFromLayers(t, format, BASE);
  // The change set measured against Docker 20.10 in the reference notes, and a few more.
  for (const p of ['/etc/os-release', '/etc/shadow-like', '/bin/echo']) await view.rm(p);
  await view.rm('/opt/data', { recursive: true });
  await view.mkdir('/opt/data');
  await view.writeFile('/opt/data/n', 'x\n');
  await view.writeFile('/newf', 'hi\n');
  await view.link('/newf', '/newl');
  await view.appendFile('/etc/hostname', 'more\n');
  await view.appendFile('/keep/x', 'y');
  await view.chmod('/keep', 0o700);
  await view.symlink('../etc/hostname', '/bin/host');

  const changes = await containerChanges(store, record);
  await commitContainer(store, record, { reference: 'x:1' });
  const names = new Set(parseTar(await topLayerTar(store, 'x:1')).map((e) => `/${e.name.replace(/\/$/, '')}`));
  const missing = changes.filter(({ kind, path: p }) => {
    if (kind !== 'D') return !names.has(p);
    const whiteout = path.posix.join(path.posix.dirname(p), `.wh.${path.posix.basename(p)}`);
    return !names.has(whiteout) && !names.has(path.posix.join(path.posix.dirname(p), '.wh..wh..opq'));
  });
  t.true(changes.length >= 12);
  t.deepEqual(missing, []);
  t.deepEqual(await layerLines(store, 'x:1'), [
    'bin/ dir 0755 0:0',
    'bin/.wh.echo file 0600 0:0 ""',
    'bin/host symlink 0777 0:0 -> ../etc/hostname',
    'etc/ dir 0755 0:0',
    'etc/hostname file 0644 0:0 "box\\nmore\\n"',
    'etc/.wh.os-release file 0600 0:0 ""',
    'etc/.wh.shadow-like file 0600 0:0 ""',
    'keep/ dir 0700 0:0',
    // Copy-up broke the link: x2 stays in the layer below, and nothing here links to it.
    'keep/x file 0644 0:0 "xy"',
    'newf file 0644 0:0 "hi\\n"',
    'newl link 0644 0:0 -> newf',
    'opt/ dir 0755 0:0',
    'opt/data/ dir 0755 0:0',
    'opt/data/.wh..wh..opq file 0755 0:0 ""',
    'opt/data/n file 0644 0:0 "x\\n"',
  ]);
});

test("commit reads the upper dir under the container's lock: it waits for another process's change to finish", async (t) => {
  const { store, record, view } = await containerFromLayers(t, 'oci', BASE);
  await view.writeFile('/first', '1');
  const upper = containerDirs(store, record.id).upper;
  const job: LockJob = {
    root: store.root,
    mode: 'mutex',
    lock: `container-${record.id}`,
    rounds: 1,
    log: path.join(upper, '..', 'lock.log'),
    holdMs: 1500,
  };
  const holder = spawn(process.execPath, [workerScript, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(holder, 'close');
  await once(holder.stdout, 'data'); // "holding 0"
  let settled = false;
  const committing = commitContainer(store, record, { reference: 'x:1' }).finally(() => {
    settled = true;
  });
  await sleep(500);
  t.false(settled, 'the commit waits while the lock is held');
  // What the holder's change does, finished before it lets go.
  await fs.writeFile(path.join(upper, 'second'), '2');
  await exited;
  await committing;
  t.deepEqual(await layerLines(store, 'x:1'), ['first file 0644 0:0 "1"', 'second file 0644 0:0 "2"']);
});
