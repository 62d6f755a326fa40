import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { pushImage } from '../../src/transfer/push.js';
import { loadImages } from '../../src/transfer/load.js';
import { digestOf } from '../../src/content/digest.js';
import { strata, repoRoot } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { manifestWithSkopeo, registrySkipReason, skopeoSkipReason, startRegistry } from '../helpers/registry.js';
import { startFaultProxy, type ProxiedRequest } from '../helpers/fault-proxy.js';

const withRegistry = testUnless(firstReason(await registrySkipReason(), await skopeoSkipReason()));
const DEMO = path.join(repoRoot, 'fixtures', 'demo.tar');
/** demo.tar's larger layer blob: 10240 bytes, ten chunks of CHUNK. */
const BIG = 'sha256:f9ff8a565f32d378148610aea6e893397533f36e8c8ffd21271e0816584c31fe';
const BIG_SIZE = 10240;
const CHUNK = 1024;
const FAST_RETRY = { attempts: 4, baseDelayMs: 10, maxDelayMs: 100 };

async function storeWithDemo(t: ExecutionContext, name: string) {
  const { store } = await tmpStore(t);
  await loadImages(store, { path: DEMO });
  const tagged = await strata(store.root, ['tag', 'demo:latest', name]);
  t.is(tagged.code, 0, tagged.stderr);
  return store;
}

/** The upload requests of one session chain, from its POST on: each URL is the Location the answer before it named. */
function uploadOf(log: ProxiedRequest[], method: 'PATCH' | 'PUT', digest: string): ProxiedRequest[] {
  const put = log.find((r) => r.method === 'PUT' && r.path.includes(`digest=${encodeURIComponent(digest)}`) && r.status === 201);
  if (put === undefined) return [];
  const uuid = /\/blobs\/uploads\/([^/?]+)/.exec(put.path)![1]!;
  return log.filter((r) => r.method === method && r.path.includes(uuid));
}

function pathOf(location: string): string {
  return new URL(location, 'http://x').pathname + new URL(location, 'http://x').search;
}

withRegistry(
  'a blob larger than the chunk size goes in ordered PATCHes, each to the Location the one before was answered with',
  async (t) => {
    const registry = await startRegistry(t, 'open');
    const proxy = await startFaultProxy(t, registry.host);
    const store = await storeWithDemo(t, `${proxy.host}/demo:1`);
    const pushed = await pushImage(store, `${proxy.host}/demo:1`, { chunkSize: CHUNK, maxConcurrentUploads: 1 });
    t.is(pushed.digest, digestOf(await manifestWithSkopeo(registry, 'demo:1')));
    const patches = uploadOf(proxy.log, 'PATCH', BIG);
    t.deepEqual(
      patches.map((r) => r.contentRange),
      Array.from({ length: BIG_SIZE / CHUNK }, (_, i) => `${i * CHUNK}-${(i + 1) * CHUNK - 1}`),
    );
    t.true(patches.every((r) => r.sent === CHUNK && r.status === 202));
    for (let i = 1; i < patches.length; i++)
      t.is(patches[i]!.path, pathOf(patches[i - 1]!.location!), `PATCH ${i} used the newest Location`);
    const [put] = uploadOf(proxy.log, 'PUT', BIG);
    t.is(put!.sent, 0, 'the closing PUT carries only the digest');
    t.true(put!.path.startsWith(pathOf(patches.at(-1)!.location!).split('?')[0]!));
    // The config (604 bytes) is below the chunk size: one POST, then one PUT with the whole body.
    const config = JSON.parse(await manifestWithSkopeo(registry, 'demo:1').then(String)) as { config: { digest: string } };
    t.deepEqual(uploadOf(proxy.log, 'PATCH', config.config.digest), []);
    t.is(uploadOf(proxy.log, 'PUT', config.config.digest)[0]!.sent, 604);
  },
);

withRegistry('a small blob is one POST answered 202, then one PUT with the body and digest', async (t) => {
  const registry = await startRegistry(t, 'open');
  const proxy = await startFaultProxy(t, registry.host);
  const store = await storeWithDemo(t, `${proxy.host}/demo:1`);
  await pushImage(store, `${proxy.host}/demo:1`, { maxConcurrentUploads: 1 });
  const uploads = proxy.log.filter((r) => r.path.includes('/blobs/uploads/'));
  t.deepEqual(
    uploads.map((r) => `${r.method} ${r.status} ${r.sent}`),
    ['POST 202 0', `PUT 201 ${BIG_SIZE}`, 'POST 202 0', 'PUT 201 4608', 'POST 202 0', 'PUT 201 604'],
  );
  t.is(proxy.log.filter((r) => r.method === 'PATCH').length, 0);
});

withRegistry('chunked uploads follow relative Locations', async (t) => {
  const registry = await startRegistry(t, 'open', { relativeUrls: true });
  const proxy = await startFaultProxy(t, registry.host);
  const store = await storeWithDemo(t, `${proxy.host}/demo:1`);
  const pushed = await pushImage(store, `${proxy.host}/demo:1`, { chunkSize: CHUNK, maxConcurrentUploads: 1 });
  t.is(pushed.digest, digestOf(await manifestWithSkopeo(registry, 'demo:1')));
  const patches = uploadOf(proxy.log, 'PATCH', BIG);
  t.is(patches.length, BIG_SIZE / CHUNK);
  t.true(
    patches.every((r) => r.location?.startsWith('/v2/demo/blobs/uploads/')),
    'the registry named relative Locations',
  );
});

for (const [what, fault] of [
  ['refused with a 503', { kind: 'status', status: 503 }],
  ['cut off before its first byte', { kind: 'cut-upload-after', bytes: 0 }],
] as const) {
  withRegistry(`a chunk ${what} goes on in the same session, from the Range the registry reports it holds`, async (t) => {
    const registry = await startRegistry(t, 'open');
    const proxy = await startFaultProxy(t, registry.host);
    const store = await storeWithDemo(t, `${proxy.host}/demo:1`);
    let patches = 0;
    proxy.fault = (r) => (r.method === 'PATCH' && ++patches === 6 ? fault : undefined);
    const pushed = await pushImage(store, `${proxy.host}/demo:1`, { chunkSize: CHUNK, maxConcurrentUploads: 1, retry: FAST_RETRY });
    t.is(pushed.digest, digestOf(await manifestWithSkopeo(registry, 'demo:1')));
    t.is(proxy.log.filter((r) => r.method === 'POST').length, 3, 'no upload session was opened again');
    const status = proxy.log.filter((r) => r.method === 'GET' && r.path.includes('/blobs/uploads/'));
    t.deepEqual(
      status.map((r) => r.status),
      [204],
      'the session was asked where it stands',
    );
    t.deepEqual(
      uploadOf(proxy.log, 'PATCH', BIG).map((r) => `${r.status} ${r.contentRange}`),
      [
        ...Array.from({ length: 5 }, (_, i) => `202 ${i * CHUNK}-${(i + 1) * CHUNK - 1}`),
        `${fault.kind === 'status' ? 503 : 0} 5120-6143`,
        ...Array.from({ length: 5 }, (_, i) => `202 ${(i + 5) * CHUNK}-${(i + 6) * CHUNK - 1}`),
      ],
    );
  });
}

withRegistry('an upload cut off mid-chunk, whose session the registry then drops, is pushed again in a new session', async (t) => {
  const registry = await startRegistry(t, 'open');
  const proxy = await startFaultProxy(t, registry.host);
  const store = await storeWithDemo(t, `${proxy.host}/demo:1`);
  let patches = 0;
  proxy.fault = (r) => (r.method === 'PATCH' && ++patches === 6 ? { kind: 'cut-upload-after', bytes: CHUNK / 2 } : undefined);
  const pushed = await pushImage(store, `${proxy.host}/demo:1`, { chunkSize: CHUNK, maxConcurrentUploads: 1, retry: FAST_RETRY });
  t.is(pushed.digest, digestOf(await manifestWithSkopeo(registry, 'demo:1')));
  // distribution 2.8 cancels a session whose stored bytes differ from the offset in its Location's
  // state. It may not have taken the cut chunk's bytes yet when asked: then one more chunk goes to
  // the old session before it is found dropped.
  const status = proxy.log.filter((r) => r.method === 'GET' && r.path.includes('/blobs/uploads/'));
  t.is(status.at(-1)?.status, 404, 'the registry dropped the session');
  t.is(proxy.log.filter((r) => r.method === 'POST').length, 4, 'one session opened again');
  t.deepEqual(
    uploadOf(proxy.log, 'PATCH', BIG).map((r) => r.contentRange),
    Array.from({ length: BIG_SIZE / CHUNK }, (_, i) => `${i * CHUNK}-${(i + 1) * CHUNK - 1}`),
    'the new session got the blob from its first byte',
  );
  const sent = proxy.log.filter((r) => r.method === 'PATCH').reduce((n, r) => n + r.sent, 0);
  t.true(sent <= 2 * BIG_SIZE + 4608, `${sent} bytes sent`);
});

withRegistry('an upload whose Location went stale mid-way starts a new session and still pushes the blob', async (t) => {
  const registry = await startRegistry(t, 'open');
  const proxy = await startFaultProxy(t, registry.host);
  const store = await storeWithDemo(t, `${proxy.host}/demo:1`);
  let patches = 0;
  let forgotten: string | undefined;
  proxy.fault = (r) => {
    const uuid = /\/blobs\/uploads\/([^/?]+)/.exec(r.path)?.[1];
    if (forgotten !== undefined && uuid === forgotten) return { kind: 'status', status: 404 };
    if (r.method === 'PATCH' && ++patches === 3) {
      forgotten = uuid;
      return { kind: 'status', status: 404 };
    }
    return undefined;
  };
  const pushed = await pushImage(store, `${proxy.host}/demo:1`, { chunkSize: CHUNK, maxConcurrentUploads: 1, retry: FAST_RETRY });
  t.is(pushed.digest, digestOf(await manifestWithSkopeo(registry, 'demo:1')));
  t.is(proxy.log.filter((r) => r.method === 'POST').length, 4, 'one session opened again');
  t.deepEqual(
    uploadOf(proxy.log, 'PATCH', BIG).map((r) => r.contentRange),
    Array.from({ length: BIG_SIZE / CHUNK }, (_, i) => `${i * CHUNK}-${(i + 1) * CHUNK - 1}`),
    'the new session got the blob from its first byte',
  );
});
