import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readEnvironment } from '../../src/cli/environment.js';
import { defaultRoot } from '../../src/store/default-root.js';
import { defaultCertsDir } from '../../src/registry/certs-dir.js';
import { defaultRunBase } from '../../src/mount/run-base.js';
import { openStore } from '../../src/store/root.js';
import { withStoreLock } from '../../src/store/lock.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { strataProcess } from '../helpers/cli.js';

test('the CLI reads the store location, whiteout format, lock timeout, import workers, source date epoch, insecure registries, registry low-speed limit and certificates, Docker config directory and runtime dir from its environment', (t) => {
  const env = readEnvironment({
    STRATA_ROOT: 'relative/store',
    STRATA_WHITEOUT_FORMAT: 'oci',
    STRATA_LOCK_TIMEOUT: '2.5',
    STRATA_INSECURE_REGISTRIES: 'registry.example:5000, 10.0.0.0/8',
    DOCKER_CONFIG: 'relative/docker',
    STRATA_IMPORT_WORKERS: '2',
    SOURCE_DATE_EPOCH: '1700000000',
    XDG_RUNTIME_DIR: '/run/user/1000',
    STRATA_HTTP_LOW_SPEED_LIMIT: '2048',
    STRATA_HTTP_LOW_SPEED_TIME: '1.5',
    SSL_CERT_FILE: '/etc/site/bundle.pem',
    NODE_EXTRA_CA_CERTS: '/etc/site/extra.pem',
    STRATA_CERTS_DIR: 'relative/certs.d',
  });
  t.deepEqual(env, {
    privileged: process.geteuid?.() === 0,
    defaultRoot: path.resolve('relative/store'),
    whiteoutFormat: 'oci',
    lockTimeoutMs: 2500,
    insecureRegistries: ['registry.example:5000', '10.0.0.0/8'],
    dockerConfigDir: path.resolve('relative/docker'),
    importWorkers: 2,
    sourceDateEpoch: '1700000000',
    lowSpeed: { bytesPerSecond: 2048, windowMs: 1500 },
    registryTrust: { caFile: '/etc/site/bundle.pem', extraCaFile: '/etc/site/extra.pem', certsDir: path.resolve('relative/certs.d') },
    runBase: process.geteuid?.() === 0 ? '/run/strata' : '/run/user/1000/strata',
  });
  const unset = readEnvironment({ XDG_DATA_HOME: '/data/home', HOME: '/home/u', STRATA_WHITEOUT_FORMAT: '', STRATA_LOCK_TIMEOUT: '' });
  t.is(unset.dockerConfigDir, '/home/u/.docker');
  t.is(unset.defaultRoot, process.geteuid?.() === 0 ? '/var/lib/strata' : '/data/home/strata');
  t.deepEqual(
    [unset.whiteoutFormat, unset.lockTimeoutMs, unset.insecureRegistries, unset.importWorkers, unset.sourceDateEpoch],
    [undefined, undefined, [], undefined, undefined],
  );
  t.deepEqual(unset.lowSpeed, { bytesPerSecond: 1024, windowMs: 30_000 }, 'under 1 KiB/s for 30 s, unless set');
  // Docker's certs.d: the root daemon's, else rootless dockerd's under the config home.
  t.deepEqual(unset.registryTrust, { certsDir: process.geteuid?.() === 0 ? '/etc/docker/certs.d' : '/home/u/.config/docker/certs.d' });
  t.is(
    readEnvironment({ XDG_CONFIG_HOME: '/cfg' }).registryTrust.certsDir,
    process.geteuid?.() === 0 ? '/etc/docker/certs.d' : '/cfg/docker/certs.d',
  );
  t.deepEqual(readEnvironment({ STRATA_HTTP_LOW_SPEED_LIMIT: '0' }).lowSpeed, { bytesPerSecond: 0, windowMs: 30_000 }, '0 turns it off');
  t.throws(() => readEnvironment({ STRATA_HTTP_LOW_SPEED_LIMIT: '1k' }), {
    message: 'STRATA_HTTP_LOW_SPEED_LIMIT must be a whole number of bytes per second, not "1k"',
  });
  t.is(readEnvironment({ STRATA_LOCK_TIMEOUT: '-1' }).lockTimeoutMs, undefined, 'a negative timeout is the default');
  t.throws(() => readEnvironment({ STRATA_WHITEOUT_FORMAT: 'aufs' }), {
    message: 'STRATA_WHITEOUT_FORMAT must be "overlay" or "oci", not "aufs"',
  });
});

test('the default root depends on the privilege the caller passes, not on who runs the test', (t) => {
  t.is(defaultRoot({ privileged: true, xdgDataHome: '/data/home' }), '/var/lib/strata');
  t.is(defaultRoot({ privileged: false, xdgDataHome: '/data/home' }), '/data/home/strata');
});

test("a registry's certs.d is the root daemon's for root, else rootless dockerd's under the config home", (t) => {
  t.is(defaultCertsDir({ privileged: true, xdgConfigHome: '/cfg', home: '/home/u' }), '/etc/docker/certs.d');
  t.is(defaultCertsDir({ privileged: false, xdgConfigHome: '/cfg', home: '/home/u' }), '/cfg/docker/certs.d');
  t.is(defaultCertsDir({ privileged: false, home: '/home/u' }), '/home/u/.config/docker/certs.d');
});

test('mount holds live in /run/strata for root, else the runtime dir, else a private temp dir', (t) => {
  t.is(defaultRunBase({ privileged: true, xdgRuntimeDir: '/run/user/1000' }), '/run/strata');
  t.is(defaultRunBase({ privileged: false, xdgRuntimeDir: '/run/user/1000' }), '/run/user/1000/strata');
  t.is(
    defaultRunBase({ privileged: false, xdgRuntimeDir: 'relative' }),
    path.join(os.tmpdir(), `strata-run-${os.userInfo().uid}`, 'strata'),
  );
  t.is(defaultRunBase({ privileged: false }), path.join(os.tmpdir(), `strata-run-${os.userInfo().uid}`, 'strata'));
});

test('the library takes privilege as an option: a store opened unprivileged is rootless whoever runs it', async (t) => {
  const { dir } = await tmpStore(t);
  const store = await openStore({ root: path.join(dir, 'other'), privileged: false });
  t.deepEqual([store.privileged, store.info.rootless], [false, true]);
  t.is(JSON.parse(await fs.readFile(store.paths.storeFile, 'utf8')).rootless, true);
});

test('STRATA_LOCK_TIMEOUT reaches the lock a CLI command waits for', async (t) => {
  const { store } = await tmpStore(t);
  let result: Awaited<ReturnType<typeof strataProcess>> | undefined;
  const started = Date.now();
  // This process holds the store lock for as long as the child runs: the child must give up by itself.
  await withStoreLock(store, async () => {
    result = await strataProcess(store.root, ['system', 'prune', '-f'], { env: { STRATA_LOCK_TIMEOUT: '0.3' } });
  });
  t.is(result!.code, 1);
  t.regex(result!.stderr, new RegExp(`^strata: .*locked by strata process ${process.pid} on .*\\n$`));
  t.true(Date.now() - started < 30_000, 'gave up after 0.3 s, not the default 120 s');
});

test('a bad STRATA_WHITEOUT_FORMAT is one line from the CLI, and no store is made', async (t) => {
  const { dir } = await tmpStore(t);
  const root = path.join(dir, 'fresh');
  const result = await strataProcess(root, ['images'], { env: { STRATA_WHITEOUT_FORMAT: 'aufs' } });
  t.is(result.code, 1, "an error of strata's own exits 1, as docker's do");
  t.is(result.stderr, 'strata: STRATA_WHITEOUT_FORMAT must be "overlay" or "oci", not "aufs"\n');
  await t.throwsAsync(fs.access(root), { code: 'ENOENT' });
});
