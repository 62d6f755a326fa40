import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { removeTree } from '../../src/store/atomic.js';
import { buildImage, type LayerEntry } from '../helpers/image-builder.js';
import { repoRoot, type CliResult } from '../helpers/cli.js';
import { snapshotTree } from '../helpers/store-snapshot.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { testUnless } from '../helpers/skip.js';
import { startStrata } from '../helpers/crash.js';
import { checkStore } from '../../src/check/check.js';
import { loadImages } from '../../src/transfer/load.js';

const run = promisify(execFile);

/*
 * Permission errors end the way a full disk does (full-disk.test.ts): one line on
 * stderr that names the file, exit 1, and nothing half-made left in the store. The
 * CLI runs as an unprivileged user (setpriv to nobody), since root is not refused.
 */
const NOBODY = 65534;
const layer: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/hostname', content: 'perm\n' },
  { path: 'bin/tool', size: 70_000, seed: 'tool' },
];

let skipReason: Promise<string | null> | undefined;
function unprivilegedSkipReason(): Promise<string | null> {
  skipReason ??= (async () => {
    if (process.platform !== 'linux') return 'needs Linux';
    if (process.geteuid?.() !== 0) return 'needs root to run the CLI as an unprivileged user';
    if (
      !(await run('setpriv', ['--version']).then(
        () => true,
        () => false,
      ))
    )
      return 'setpriv (util-linux) is not installed';
    // nobody must be able to read the built CLI: a checkout under a private home would not be.
    const probe = await asNobody(
      ['-e', `require('fs').accessSync(${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'cli', 'bin.js'))})`],
      os.tmpdir(),
      true,
    );
    return probe.code === 0 ? null : `user ${NOBODY} cannot read the repository (${probe.stderr.trim().split('\n')[0]})`;
  })();
  return skipReason;
}

/** Runs node (`raw`) or the strata CLI as uid/gid 65534 with no supplementary groups. */
function asNobody(args: string[], home: string, raw = false, wrapper: string[] = []): Promise<CliResult> {
  const argv = raw ? args : [path.join(repoRoot, 'bin', 'strata.js'), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...wrapper, process.execPath, ...argv], {
      env: { ...process.env, HOME: home, XDG_DATA_HOME: path.join(home, 'data') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
  });
}

interface World {
  dir: string;
  root: string;
  archive: string;
  strata(args: string[], wrapper?: string[]): Promise<CliResult>;
}

/** A world-readable temp dir holding a store owned by nobody (with one image in it) and an archive to load. */
async function world(t: ExecutionContext): Promise<World> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-errors-'));
  t.teardown(() => removeTree(dir));
  await fs.chmod(dir, 0o755);
  const home = path.join(dir, 'home');
  await fs.mkdir(home);
  await fs.chown(home, NOBODY, NOBODY);
  const root = path.join(home, 'store');
  const strata = (args: string[], wrapper: string[] = []) => asNobody(['--root', root, ...args], home, false, wrapper);
  const baseline = path.join(dir, 'baseline.tar');
  await fs.writeFile(baseline, await buildImage({ format: 'oci', repoTags: ['baseline:1'], layers: [[{ path: 'etc/', type: 'dir' }]] }));
  const loaded = await strata(['load', '-i', baseline]);
  t.is(loaded.code, 0, loaded.stderr);
  const archive = path.join(dir, 'perm.tar');
  await fs.writeFile(archive, await buildImage({ format: 'docker', repoTags: ['perm:1'], layers: [layer] }));
  return { dir, root, archive, strata };
}

function oneLine(t: ExecutionContext, result: CliResult): string {
  t.is(result.code, 1, result.stderr);
  const lines = result.stderr.split('\n').filter(Boolean);
  t.is(lines.length, 1, `one line on stderr:\n${result.stderr}`);
  return lines[0] ?? '';
}

const asUnprivileged = testUnless(await unprivilegedSkipReason());
const prlimit =
  process.platform === 'linux' &&
  (await run('prlimit', ['--version']).then(
    () => true,
    () => false,
  ));

asUnprivileged('loading an archive the user cannot read: one line naming it, exit 1, the store untouched', async (t) => {
  const w = await world(t);
  await fs.chmod(w.archive, 0o000);
  const before = await snapshotTree(w.root);
  const line = oneLine(t, await w.strata(['load', '-i', w.archive]));
  t.is(line, `strata: ${w.archive}: Permission denied`);
  t.deepEqual(await snapshotTree(w.root), before);
  t.is((await w.strata(['check'])).code, 0);
});

const readOnly = test.macro({
  async exec(t, part: string) {
    const w = await world(t);
    const target = path.join(w.root, part);
    const mode = (await fs.stat(target)).mode & 0o7777;
    await fs.chmod(target, 0o555);
    const before = await snapshotTree(w.root);

    const line = oneLine(t, await w.strata(['load', '-i', w.archive]));
    // The store's internal temp files (`images/.tmp-…json`) mean nothing to a user: the store and the reason do.
    t.is(line, `strata: cannot write to store ${w.root}: permission denied`);
    t.deepEqual(await snapshotTree(w.root), before, 'nothing half-made is left');
    await fs.chmod(target, mode);
    const check = await w.strata(['check']);
    t.is(check.code, 0, check.stdout + check.stderr);

    const loaded = await w.strata(['load', '-i', w.archive]);
    t.is(loaded.code, 0, loaded.stderr);
    t.regex(loaded.stdout, /Loaded image: perm:1/);
  },
  title: (_provided, part: string) =>
    `loading into a store whose ${part || 'root'} directory is read-only: one line naming the store, exit 1, nothing left behind; the load works once it is writable`,
});

for (const part of ['', 'ingest', 'blobs/sha256', 'layers', 'images']) asUnprivileged(readOnly, part);

testUnless(prlimit ? null : 'needs Linux and prlimit (util-linux)')(
  'running out of file descriptors in the middle of a load ends in one line and leaves the store clean',
  async (t) => {
    const { store, dir } = await tmpStore(t);
    await fs.writeFile(
      path.join(dir, 'baseline.tar'),
      await buildImage({ format: 'oci', repoTags: ['baseline:1'], layers: [[{ path: 'etc/', type: 'dir' }]] }),
    );
    await loadImages(store, { path: path.join(dir, 'baseline.tar') });
    const archive = zlib.gzipSync(await buildImage({ format: 'docker', repoTags: ['fd:1'], layers: [layer] }));
    const before = await snapshotTree(store.root);
    // Node's module loader alone needs ~50 descriptors, so the limit is lowered only once
    // the load has begun: it reads a gzipped archive from stdin, spools it, and is
    // frozen as the layer's import stage begins (its blob already open); from then on
    // the process may open no more files than it has open, and the stage needs more.
    // (Same user, so no privilege is needed to lower it.)
    const started = startStrata(store.root, ['load'], { stdin: archive, pauseAt: 'layer.stage:3000' });
    const child = started.child;
    t.teardown(() => {
      child.kill('SIGKILL');
    });
    t.truthy(await started.waitFor((m) => m.name === 'layer.stage'), 'the load reached the layer');
    // The limit is the lowest free descriptor number, not the count: a descriptor
    // inherited far above the others (a test runner's pipe) would leave a gap below it.
    const fds = new Set((await fs.readdir(`/proc/${child.pid}/fd`)).map(Number));
    let open = 0;
    while (fds.has(open)) open++;
    await run('prlimit', [`--pid=${child.pid}`, `--nofile=${open}:${open}`]);
    const { code, stderr } = await started.exit;

    const lines = stderr.split('\n').filter(Boolean);
    t.is(code, 1);
    t.is(lines.length, 1, lines.join('\n'));
    t.regex(lines[0] ?? '', /^strata: .*(EMFILE|Too many open files)/i);
    t.deepEqual(await snapshotTree(store.root), before, 'the spool and everything else are gone');
    t.deepEqual((await checkStore(store)).problems, []);
    t.log(lines[0]);
  },
);
