import fs from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { strataProcess } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import { pushWithSkopeo, registrySkipReason, skopeoSkipReason, startRegistry } from '../helpers/registry.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { snapshotContent } from '../helpers/store-snapshot.js';

const maybe = testUnless(firstReason(await registrySkipReason(), await skopeoSkipReason(), sharedSkipReason()));
const APP = path.join(conformanceImages, 'app.oci.tar');
// The big layer of app.oci.tar: 10,571,274 bytes.
const BIG = 'sha256:569eefd614caf0f5ed4ea1277c3f73aff587bc2770c5040b6bd3bf9b5b9440bc';
const BIG_SIZE = 10_571_274;
/** A one-second low-speed window, so a drip is given up on in about a second instead of 30. */
const ENV = { STRATA_HTTP_LOW_SPEED_TIME: '1' };
/** 100 bytes/s: under the 1 KiB/s minimum, yet never silent for the idle timeout's 30 s. */
const DRIP = { bytes: 10, everyMs: 100 };

const isBlobGet = (r: { method: string; path: string }, digest: string) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`);
const withoutLocks = (rows: string[]) => rows.filter((l) => !/^(leases|locks)\t/.test(l));

async function setup(t: ExecutionContext) {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP, 'app:1.0');
  const proxy = await startFaultProxy(t, registry.host);
  const { store } = await tmpStore(t);
  return { proxy, root: store.root, spool: store.paths.pullSpool(BIG), ref: `${proxy.host}/app:1.0` };
}

const slowLine = (host: string, pathname: string) =>
  new RegExp(`^strata: ${host}: \\d+ bytes/s over 1 s, under the 1024 bytes/s minimum, giving up on ${pathname}\\n$`);

maybe('a registry that drips a blob is cut off in bounded time with one line; the next pull resumes what arrived', async (t) => {
  const { proxy, root, spool, ref } = await setup(t);
  const before = await snapshotContent(root);
  proxy.fault = (r) => (isBlobGet(r, BIG) ? { kind: 'drip', after: 3_000_000, ...DRIP } : undefined);
  const started = Date.now();
  const dripped = await strataProcess(root, ['pull', '-q', ref], { env: ENV });
  const took = Date.now() - started;
  t.is(dripped.code, 1);
  t.regex(dripped.stderr, slowLine(proxy.host, `/v2/app/blobs/${BIG}`));
  t.is(dripped.stdout, '');
  t.true(took < 15_000, `gave up after ${took} ms`);
  // Not retried: a drip would keep a retry that restarts with every byte going for ever.
  t.is(proxy.log.filter((r) => isBlobGet(r, BIG)).length, 1);

  // The store is as it was, apart from what arrived, kept in ingest/ for the next pull
  // (less what was still in the response's buffer, unread, when it was cut off).
  const kept = (await fs.stat(spool)).size;
  t.true(kept > 2_900_000 && kept < 3_100_000, `kept ${kept}`);
  await fs.rename(spool, `${spool}.aside`);
  t.deepEqual(withoutLocks((await snapshotContent(root)).filter((l) => !l.startsWith('ingest/'))), withoutLocks(before));
  await fs.rename(`${spool}.aside`, spool);

  proxy.fault = () => undefined;
  const from = proxy.log.length;
  const resumed = await strataProcess(root, ['pull', '-q', ref], { env: ENV });
  t.deepEqual(resumed, { code: 0, signal: null, stdout: `${ref}\n`, stderr: '' });
  t.deepEqual(
    proxy.log
      .slice(from)
      .filter((r) => isBlobGet(r, BIG))
      .map((r) => [r.range, r.bytes]),
    [[`bytes=${kept}-`, BIG_SIZE - kept]],
  );
});

maybe('a registry that drips its manifest is cut off in bounded time with one line, the store untouched', async (t) => {
  const { proxy, root, ref } = await setup(t);
  const before = await snapshotContent(root);
  proxy.fault = (r) => (r.path.includes('/manifests/') ? { kind: 'drip', ...DRIP } : undefined);
  const started = Date.now();
  const dripped = await strataProcess(root, ['pull', ref], { env: ENV });
  const took = Date.now() - started;
  t.is(dripped.code, 1);
  t.regex(dripped.stderr, slowLine(proxy.host, '/v2/app/manifests/1.0'));
  t.true(took < 15_000, `gave up after ${took} ms`);
  t.deepEqual(withoutLocks(await snapshotContent(root)), withoutLocks(before));
});

test('a low-speed setting that is not a number is one line and exit 1', async (t) => {
  const { store } = await tmpStore(t);
  const result = await strataProcess(store.root, ['pull', '-q', '127.0.0.1:1/x'], { env: { STRATA_HTTP_LOW_SPEED_TIME: 'soon' } });
  t.deepEqual([result.code, result.stderr], [1, 'strata: STRATA_HTTP_LOW_SPEED_TIME must be a number of seconds above 0, not "soon"\n']);
});
