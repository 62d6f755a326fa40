import fs from 'node:fs/promises';
import type { ExecutionContext } from 'ava';
import path from 'node:path';
import { pullImage } from '../../src/transfer/pull.js';
import { findImage } from '../../src/image/lookup.js';
import { collectGarbage } from '../../src/gc/sweep.js';
import { checkStore } from '../../src/check/check.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import { pushWithSkopeo, registrySkipReason, skopeoSkipReason, startRegistry } from '../helpers/registry.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import { strataProcess } from '../helpers/cli.js';

const maybe = testUnless(firstReason(await registrySkipReason(), await skopeoSkipReason(), sharedSkipReason()));
const APP = path.join(conformanceImages, 'app.oci.tar');
const APP_CONFIG = 'sha256:81d880b7ac0bf6c777541ce5fef83005820d57f32858b068a6dad5ed80ca28f6';
// The big layer of app.oci.tar: 10,571,274 bytes.
const BIG = 'sha256:569eefd614caf0f5ed4ea1277c3f73aff587bc2770c5040b6bd3bf9b5b9440bc';
const BIG_SIZE = 10_571_274;
const FAST_RETRY = { attempts: 4, baseDelayMs: 20, maxDelayMs: 5000 };

const isBlobGet = (r: { method: string; path: string }, digest: string) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`);

async function setup(t: ExecutionContext) {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP, 'app:1.0');
  const proxy = await startFaultProxy(t, registry.host);
  const { store } = await tmpStore(t);
  return { proxy, store, ref: `${proxy.host}/app:1.0` };
}

maybe('a connection reset mid-blob resumes with Range: the blob crosses the wire once (≤ 1.1×)', async (t) => {
  const { proxy, store, ref } = await setup(t);
  let resets = 0;
  proxy.fault = (r) => (isBlobGet(r, BIG) && resets++ === 0 ? { kind: 'reset-after', bytes: 3_000_000 } : undefined);
  t.is((await pullImage(store, ref, { retry: FAST_RETRY })).id, APP_CONFIG);
  // The reset loses what was in flight: the retry asks from the first byte that did not arrive.
  const [first, second, ...more] = proxy.log.filter((r) => isBlobGet(r, BIG));
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(second!.range ?? '')?.[1]);
  t.deepEqual([first!.range, first!.bytes, more.length], [undefined, 3_000_000, 0]);
  t.true(resumedAt > 2_000_000 && resumedAt <= 3_000_000, `resumed at ${resumedAt}`);
  t.is(second!.bytes, BIG_SIZE - resumedAt);
  t.true(proxy.blobBytes(BIG) <= 1.1 * BIG_SIZE);
  t.deepEqual(await fs.readdir(store.paths.ingestDir), []);
});

maybe('a registry that ignores Range on the retry still gives the right blob (its first bytes skipped)', async (t) => {
  const { proxy, store, ref } = await setup(t);
  let n = 0;
  proxy.fault = (r) => {
    if (!isBlobGet(r, BIG)) return undefined;
    n++;
    return n === 1 ? { kind: 'reset-after', bytes: 1_000_000 } : { kind: 'ignore-range' };
  };
  t.is((await pullImage(store, ref, { retry: FAST_RETRY })).id, APP_CONFIG);
  t.deepEqual(
    proxy.log.filter((r) => isBlobGet(r, BIG)).map((r) => [r.status, r.bytes]),
    [
      [200, 1_000_000],
      [200, BIG_SIZE],
    ],
  );
  t.deepEqual((await findImage(store, APP_CONFIG)).layers[0]!.blobDigest, BIG);
});

maybe('429 with Retry-After is waited out for as long as it says, 503s are retried with backoff', async (t) => {
  const { proxy, store, ref } = await setup(t);
  let manifestTries = 0;
  let blobTries = 0;
  proxy.fault = (r) => {
    if (r.path.includes('/manifests/') && manifestTries++ === 0) return { kind: 'status', status: 429, headers: { 'retry-after': '1' } };
    if (isBlobGet(r, BIG) && blobTries++ < 2) return { kind: 'status', status: 503 };
    return undefined;
  };
  t.is((await pullImage(store, ref, { retry: FAST_RETRY })).id, APP_CONFIG);
  const manifests = proxy.log.filter((r) => r.path.includes('/manifests/'));
  t.deepEqual(
    manifests.map((r) => r.status),
    [429, 200],
  );
  t.true(manifests[1]!.at - manifests[0]!.at >= 1000, 'waited the second Retry-After asked for');
  t.deepEqual(
    proxy.log.filter((r) => isBlobGet(r, BIG)).map((r) => r.status),
    [503, 503, 200],
  );
});

maybe('a pull that gives up keeps what arrived in ingest/, and the next pull resumes from there', async (t) => {
  const { proxy, store, ref } = await setup(t);
  const before = await snapshotContent(store.root);
  proxy.fault = (r) => (isBlobGet(r, BIG) ? { kind: 'reset-after', bytes: 4_000_000 } : undefined);
  await t.throwsAsync(pullImage(store, ref, { retry: { ...FAST_RETRY, attempts: 1 }, maxConcurrentDownloads: 1 }), {
    code: 'EREGISTRY',
    message: `${proxy.host}/app@${BIG}: aborted (ECONNRESET)`,
  });
  const spool = store.paths.pullSpool(BIG);
  const kept = (await fs.stat(spool)).size;
  t.true(kept > 3_000_000 && kept <= 4_000_000, `kept ${kept}`);
  // Apart from the spool, the store is as it was.
  await fs.rename(spool, `${spool}.aside`);
  t.deepEqual(
    (await snapshotContent(store.root)).filter((l) => !l.startsWith('ingest/') && !/^(leases|locks)\t/.test(l)),
    before.filter((l) => !/^(leases|locks)\t/.test(l)),
  );
  await fs.rename(`${spool}.aside`, spool);

  proxy.fault = () => undefined;
  const from = proxy.log.length;
  t.is((await pullImage(store, ref)).id, APP_CONFIG);
  const resumed = proxy.log.slice(from).filter((r) => isBlobGet(r, BIG));
  t.deepEqual(
    resumed.map((r) => [r.range, r.bytes]),
    [[`bytes=${kept}-`, BIG_SIZE - kept]],
  );
  await t.throwsAsync(fs.stat(spool), { code: 'ENOENT' });
});

maybe('two processes pulling one image into one store at once both succeed, and every stored blob is its digest', async (t) => {
  const { proxy, store, ref } = await setup(t);
  // About a second for the big layer, so the two downloads of it overlap.
  proxy.throttle = 10 * 1024 * 1024;
  const [first, second] = await Promise.all([
    strataProcess(store.root, ['pull', '-q', ref]),
    strataProcess(store.root, ['pull', '-q', ref]),
  ]);
  t.deepEqual([first.code, first.stderr, second.code, second.stderr], [0, '', 0, '']);
  t.is((await findImage(store, APP_CONFIG)).id, APP_CONFIG);
  t.deepEqual((await checkStore(store)).problems, []);
  t.deepEqual(await fs.readdir(store.paths.ingestDir), []);
});

maybe('a spool that is not this blob’s beginning is dropped and the blob fetched again from the start', async (t) => {
  const { proxy, store, ref } = await setup(t);
  await fs.mkdir(store.paths.ingestDir, { recursive: true });
  await fs.writeFile(store.paths.pullSpool(BIG), Buffer.alloc(5000, 7));
  t.is((await pullImage(store, ref)).id, APP_CONFIG);
  t.deepEqual(
    proxy.log.filter((r) => isBlobGet(r, BIG)).map((r) => [r.range, r.status]),
    [
      ['bytes=5000-', 206],
      [undefined, 200],
    ],
  );
  t.deepEqual(await fs.readdir(store.paths.ingestDir), []);
});

maybe('a layer unpacks while it downloads: its files are on disk before half the blob has arrived', async (t) => {
  const { proxy, store, ref } = await setup(t);
  // About 2.5 s for the big layer.
  proxy.throttle = 4 * 1024 * 1024;
  let finished = false;
  const pulling = pullImage(store, ref, { maxConcurrentDownloads: 1 }).finally(() => {
    finished = true;
  });
  let seenAt: number | undefined;
  while (!finished && seenAt === undefined) {
    const sent = proxy.blobBytes(BIG);
    const building = (await fs.readdir(store.paths.layersDir).catch(() => [])).filter((n) => n.startsWith('.tmp'));
    for (const dir of building) {
      const entries = await fs.readdir(path.join(store.paths.layersDir, dir), { recursive: true }).catch(() => []);
      if (entries.length > 5 && sent < BIG_SIZE / 2) seenAt = sent;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  t.is((await pulling).id, APP_CONFIG);
  t.not(seenAt, undefined, 'unpacked files appeared while the first half of the blob was still arriving');
});

maybe('a blob whose bytes are not its digest fails the pull with one line and leaves the store as it was', async (t) => {
  const { proxy, store, ref } = await setup(t);
  const before = await snapshotContent(store.root);
  proxy.fault = (r) => (isBlobGet(r, BIG) ? { kind: 'corrupt', at: 5_000_000 } : undefined);
  await t.throwsAsync(pullImage(store, ref, { maxConcurrentDownloads: 1 }), {
    code: 'EINTEGRITY',
    message: new RegExp(
      `^${proxy.host.replace(/\./g, '\\.')}/app@${BIG}: digest mismatch \\(expected ${BIG}, found sha256:[0-9a-f]{64}\\)$`,
    ),
  });
  t.deepEqual(
    (await snapshotContent(store.root)).filter((l) => !/^(leases|locks)\t/.test(l)),
    before.filter((l) => !/^(leases|locks)\t/.test(l)),
  );
});

/** The app's manifest, with the big layer's descriptor size changed by `delta`, put under `tag`. */
async function putResized(host: string, tag: string, delta: number): Promise<void> {
  const oci = 'application/vnd.oci.image.manifest.v1+json';
  const got = await fetch(`http://${host}/v2/app/manifests/1.0`, { headers: { accept: oci } });
  const manifest = (await got.json()) as { layers: { digest: string; size: number }[] };
  for (const layer of manifest.layers) if (layer.digest === BIG) layer.size += delta;
  const put = await fetch(`http://${host}/v2/app/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': oci },
    body: JSON.stringify(manifest),
  });
  if (put.status !== 201) throw new Error(`PUT manifest ${tag}: ${put.status} ${await put.text()}`);
}

maybe('a blob longer or shorter than its descriptor fails the pull with one line and leaves the store as it was', async (t) => {
  const { proxy, store } = await setup(t);
  await putResized(proxy.host, 'longer-blob', -1000);
  await putResized(proxy.host, 'shorter-blob', +1000);
  const before = await snapshotContent(store.root);
  const unchanged = async () =>
    t.deepEqual(
      (await snapshotContent(store.root)).filter((l) => !/^(leases|locks)\t/.test(l)),
      before.filter((l) => !/^(leases|locks)\t/.test(l)),
    );
  const blob = `${proxy.host}/app@${BIG}`;
  await t.throwsAsync(pullImage(store, `${proxy.host}/app:longer-blob`, { maxConcurrentDownloads: 1, retry: FAST_RETRY }), {
    code: 'EINTEGRITY',
    message: `${blob}: size mismatch (expected ${BIG_SIZE - 1000} bytes, found ${BIG_SIZE} or more)`,
  });
  await unchanged();
  // The whole blob arrives, short of the descriptor; the registry has nothing after it (416).
  await t.throwsAsync(pullImage(store, `${proxy.host}/app:shorter-blob`, { maxConcurrentDownloads: 1, retry: FAST_RETRY }), {
    code: 'EINTEGRITY',
    message: `${blob}: the registry sent ${BIG_SIZE} bytes, but the descriptor says ${BIG_SIZE + 1000}`,
  });
  await unchanged();
});

maybe('what a failed pull keeps in ingest/ stays while fresh (a pull may resume it) and goes with gc once stale', async (t) => {
  const { proxy, store, ref } = await setup(t);
  proxy.fault = (r) => (isBlobGet(r, BIG) ? { kind: 'reset-after', bytes: 2_000_000 } : undefined);
  await t.throwsAsync(pullImage(store, ref, { retry: { ...FAST_RETRY, attempts: 1 }, maxConcurrentDownloads: 1 }), { code: 'EREGISTRY' });
  const spool = store.paths.pullSpool(BIG);
  const kept = (await fs.stat(spool)).size;
  t.deepEqual((await collectGarbage(store)).removed, [], 'a fresh spool may belong to a pull that resumes');
  await fs.access(spool);
  const old = new Date(Date.now() - 2 * 3600_000);
  await fs.utimes(spool, old, old);
  t.deepEqual(
    (await collectGarbage(store)).removed.map((r) => [r.kind, r.name, r.bytes]),
    [['leftover', path.relative(store.root, spool), kept]],
  );
  await t.throwsAsync(fs.stat(spool), { code: 'ENOENT' });
  t.deepEqual((await checkStore(store)).problems, []);
});
