import fs from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { pushImage, type PushEvent } from '../../src/transfer/push.js';
import { pullImage } from '../../src/transfer/pull.js';
import { loadImages } from '../../src/transfer/load.js';
import { digestOf } from '../../src/content/digest.js';
import { strata, strataProcess, repoRoot } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import {
  basicRegistrySkipReason,
  copyOutWithSkopeo,
  manifestWithSkopeo,
  pushWithSkopeo,
  registrySkipReason,
  skopeoSkipReason,
  startRegistry,
  tokenRegistrySkipReason,
  type RegistryAuth,
} from '../helpers/registry.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { commandSkipReason } from '../helpers/tools.js';
import { dirManifest, viewManifest } from '../helpers/fs-manifest.js';
import { findImage } from '../../src/image/lookup.js';
import { imageView } from '../../src/image/view.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

const skopeo = await skopeoSkipReason();
const noUmoci = await commandSkipReason('umoci', ['--version'], 'umoci is not installed');
const reasons: Record<RegistryAuth, string | null> = {
  open: firstReason(await registrySkipReason(), skopeo),
  basic: firstReason(await basicRegistrySkipReason(), skopeo),
  token: firstReason(await tokenRegistrySkipReason(), skopeo),
};
const withShared = testUnless(firstReason(reasons.open, sharedSkipReason()));
const DEMO = path.join(repoRoot, 'fixtures', 'demo.tar');
const APP = path.join(conformanceImages, 'app.oci.tar');
const APP_MANIFEST = 'sha256:716671e5fa6f33ad906b25818261dd3388535337f30b98d18a8daa1c23e6c834';

/** A store holding fixtures/demo.tar tagged `NAME` (demo.tar came from docker save: no manifest). */
async function storeWithDemo(t: ExecutionContext, name: string) {
  const { store, dir } = await tmpStore(t);
  await loadImages(store, { path: DEMO });
  const tagged = await strata(store.root, ['tag', 'demo:latest', name]);
  t.is(tagged.code, 0, tagged.stderr);
  return { store, dir };
}

for (const auth of ['open', 'basic', 'token'] as const) {
  testUnless(reasons[auth])(`${auth} registry: a pushed image is what skopeo reads back, digest for digest`, async (t) => {
    const registry = await startRegistry(t, auth);
    const { store, dir } = await storeWithDemo(t, `${registry.host}/team/demo:1`);
    const credentials = auth === 'open' ? undefined : { username: registry.username, password: registry.password };
    const pushed = await pushImage(store, `${registry.host}/team/demo:1`, { credentials: () => credentials });
    const served = await manifestWithSkopeo(registry, 'team/demo:1');
    t.deepEqual(pushed, { tag: '1', digest: digestOf(served), size: served.length });
    await copyOutWithSkopeo(registry, 'team/demo:1', path.join(dir, 'out'));
    const index = JSON.parse(await fs.readFile(path.join(dir, 'out', 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    t.is(index.manifests[0]!.digest, pushed.digest);
    const manifest = JSON.parse(served.toString()) as { config: { digest: string } };
    t.is(manifest.config.digest, 'sha256:8ebcc18619887bb5e534ed12acd5fc40015373fe531570afff4e3f7b15d681aa');
  });
}

withShared('a pulled image pushed to another repository keeps its manifest digest', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP, 'app:1.0');
  const { store } = await tmpStore(t);
  await pullImage(store, `${registry.host}/app:1.0`);
  t.is((await strata(store.root, ['tag', `${registry.host}/app:1.0`, `${registry.host}/copy:2`])).code, 0);
  const pushed = await pushImage(store, `${registry.host}/copy:2`);
  t.deepEqual(pushed, { tag: '2', digest: APP_MANIFEST, size: 504 });
  t.is(digestOf(await manifestWithSkopeo(registry, 'copy:2')), APP_MANIFEST);
});

testUnless(reasons.open)('pushing twice sends no blob bodies the second time: HEADs and the manifest only', async (t) => {
  const registry = await startRegistry(t, 'open');
  const proxy = await startFaultProxy(t, registry.host);
  const { store } = await storeWithDemo(t, `${proxy.host}/demo:1`);
  const events: PushEvent[] = [];
  await pushImage(store, `${proxy.host}/demo:1`);
  const from = proxy.log.length;
  const again = await pushImage(store, `${proxy.host}/demo:1`, { onEvent: (e) => events.push(e) });
  const second = proxy.log.slice(from);
  t.deepEqual(second.map((r) => `${r.method} ${r.path.replace(/sha256:[0-9a-f]{64}/, 'D')}`).sort(), [
    'HEAD /v2/demo/blobs/D',
    'HEAD /v2/demo/blobs/D',
    'HEAD /v2/demo/blobs/D',
    'PUT /v2/demo/manifests/1',
  ]);
  t.deepEqual(
    events.filter((e) => e.type === 'layer-done').map((e) => (e as { outcome: string }).outcome),
    ['exists', 'exists'],
  );
  t.is(again.digest, digestOf(await manifestWithSkopeo({ ...registry, host: proxy.host }, 'demo:1')));
});

testUnless(reasons.open)('push prints Docker’s lines; -q only the reference; an unknown image is one line', async (t) => {
  const registry = await startRegistry(t, 'open');
  const { store } = await storeWithDemo(t, `${registry.host}/demo:1`);
  const first = await strata(store.root, ['push', `${registry.host}/demo:1`]);
  const digest = digestOf(await manifestWithSkopeo(registry, 'demo:1'));
  const size = (await manifestWithSkopeo(registry, 'demo:1')).length;
  t.deepEqual(first, {
    code: 0,
    stdout: [
      `The push refers to repository [${registry.host}/demo]`,
      'c496f90e329a: Preparing',
      'f9ff8a565f32: Preparing',
      'c496f90e329a: Pushed',
      'f9ff8a565f32: Pushed',
      `1: digest: ${digest} size: ${size}`,
      '',
    ].join('\n'),
    stderr: '',
  });
  const again = await strata(store.root, ['image', 'push', `${registry.host}/demo:1`]);
  t.regex(again.stdout, /c496f90e329a: Layer already exists\nf9ff8a565f32: Layer already exists\n/);
  t.deepEqual(await strata(store.root, ['push', '-q', `${registry.host}/demo:1`]), {
    code: 0,
    stdout: `${registry.host}/demo:1\n`,
    stderr: '',
  });
  t.deepEqual(await strata(store.root, ['push', `${registry.host}/nothing:1`]), {
    code: 1,
    stdout: '',
    stderr: `strata: No such image: ${registry.host}/nothing:1\n`,
  });
});

testUnless(reasons.open)('relative upload Locations are resolved against the request', async (t) => {
  const registry = await startRegistry(t, 'open', { relativeUrls: true });
  const { store } = await storeWithDemo(t, `${registry.host}/demo:1`);
  const pushed = await pushImage(store, `${registry.host}/demo:1`);
  t.is(pushed.digest, digestOf(await manifestWithSkopeo(registry, 'demo:1')));
});

testUnless(reasons.open)('an upload whose Location went stale (404) or failed with a 5xx starts a new upload session', async (t) => {
  const registry = await startRegistry(t, 'open');
  const proxy = await startFaultProxy(t, registry.host);
  const { store } = await storeWithDemo(t, `${proxy.host}/demo:1`);
  let puts = 0;
  proxy.fault = (r) => {
    if (r.method !== 'PUT' || !r.path.includes('/blobs/uploads/')) return undefined;
    puts++;
    if (puts === 1) return { kind: 'status', status: 404 };
    if (puts === 2) return { kind: 'status', status: 503 };
    return undefined;
  };
  const pushed = await pushImage(store, `${proxy.host}/demo:1`, {
    maxConcurrentUploads: 1,
    retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 100 },
  });
  t.is(pushed.digest, digestOf(await manifestWithSkopeo(registry, 'demo:1')));
  const posts = proxy.log.filter((r) => r.method === 'POST').length;
  t.is(posts, 3 + 2, 'three blobs, two of the sessions opened again');
});

withShared('a pulled image pushed to another repository of the same registry is mounted, not uploaded', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP, 'app:1.0');
  const proxy = await startFaultProxy(t, registry.host);
  const { store } = await tmpStore(t);
  await pullImage(store, `${proxy.host}/app:1.0`);
  t.is((await strata(store.root, ['tag', `${proxy.host}/app:1.0`, `${proxy.host}/copy:2`])).code, 0);
  const from = proxy.log.length;
  const pushed = await strata(store.root, ['push', `${proxy.host}/copy:2`]);
  t.is(pushed.code, 0, pushed.stderr);
  t.regex(
    pushed.stdout,
    /: Mounted from app\n.*: Mounted from app\n2: digest: sha256:716671e5fa6f33ad906b25818261dd3388535337f30b98d18a8daa1c23e6c834 size: 504\n$/,
  );
  const requests = proxy.log.slice(from);
  t.deepEqual(
    requests.filter((r) => r.method === 'PUT' || r.method === 'PATCH').map((r) => r.path),
    ['/v2/copy/manifests/2'],
    'no blob body was sent',
  );
  t.is(requests.filter((r) => r.method === 'POST' && r.path.includes('mount=')).length, 3);
});

testUnless(reasons.open)('on a terminal each layer gets a bar that ends as "Pushed"; the digest line follows', async (t) => {
  const registry = await startRegistry(t, 'open');
  const { store } = await storeWithDemo(t, `${registry.host}/demo:1`);
  const result = await strata(store.root, ['push', `${registry.host}/demo:1`], { tty: true, columns: 120 });
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /^The push refers to repository \[127\.0\.0\.1:\d+\/demo\]\n/);
  t.regex(result.stdout, /c496f90e329a: Pushed +█+ \S+\/\S+/);
  t.regex(result.stdout, /f9ff8a565f32: Pushed +█+ \S+\/\S+/);
  t.true(
    result.stdout.endsWith(
      `1: digest: ${digestOf(await manifestWithSkopeo(registry, 'demo:1'))} size: ${(await manifestWithSkopeo(registry, 'demo:1')).length}\n`,
    ),
  );
  t.false(result.stdout.includes(': Preparing\n'), 'the piped lines are not printed on a terminal');
});

testUnless(reasons.open)('after a push, images --digests and image inspect show the repository digest, as Docker does', async (t) => {
  const registry = await startRegistry(t, 'open');
  const name = `${registry.host}/team/demo`;
  const { store } = await storeWithDemo(t, `${name}:1`);
  const before = await strata(store.root, ['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}', name]);
  t.is(before.stdout, `${name} 1 <none>\n`, 'a docker-save image has no manifest digest before it is pushed');
  const pushed = await pushImage(store, `${name}:1`);
  const listed = await strata(store.root, ['images', '--digests', name]);
  t.regex(listed.stdout, new RegExp(`^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE\n${name} +1 +${pushed.digest} +8ebcc1861988 `));
  const inspect = await strata(store.root, ['image', 'inspect', '--format', '{{json .RepoDigests}}', `${name}:1`]);
  t.is(inspect.stdout, `["${name}@${pushed.digest}"]\n`);
  // Pushed again under another tag of the same repository: the same digest, recorded once.
  t.is((await strata(store.root, ['tag', `${name}:1`, `${name}:2`])).code, 0);
  await pushImage(store, `${name}:2`);
  const again = await strata(store.root, ['image', 'inspect', '--format', '{{json .RepoDigests}}', `${name}:2`]);
  t.is(again.stdout, `["${name}@${pushed.digest}"]\n`);
});

testUnless(reasons.token)('token registry: a mount asks for pull on the source repository too, and the layers are mounted', async (t) => {
  const registry = await startRegistry(t, 'token');
  const proxy = await startFaultProxy(t, registry.host);
  const { store } = await storeWithDemo(t, `${proxy.host}/team/app:1`);
  const credentials = () => ({ username: registry.username, password: registry.password });
  await pushImage(store, `${proxy.host}/team/app:1`, { credentials });
  t.is((await strata(store.root, ['tag', `${proxy.host}/team/app:1`, `${proxy.host}/copy:2`])).code, 0);
  const config = path.join(store.root, '..', 'docker-config');
  await fs.mkdir(config, { recursive: true });
  const auth = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
  await fs.writeFile(path.join(config, 'config.json'), JSON.stringify({ auths: { [proxy.host]: { auth } } }));
  const from = proxy.log.length;
  const issued = registry.tokens!.issued.length;
  const pushed = await strataProcess(store.root, ['push', `${proxy.host}/copy:2`], { env: { DOCKER_CONFIG: config } });
  t.is(pushed.code, 0, pushed.stderr);
  t.regex(
    pushed.stdout,
    /\nc496f90e329a: Mounted from team\/app\nf9ff8a565f32: Mounted from team\/app\n2: digest: sha256:[0-9a-f]{64} size: \d+\n$/,
  );
  const requests = proxy.log.slice(from);
  t.deepEqual(
    requests.filter((r) => r.method === 'PUT' || r.method === 'PATCH').map((r) => r.path),
    ['/v2/copy/manifests/2'],
    'no blob body was sent',
  );
  t.true(
    registry.tokens!.issued.slice(issued).some((i) => i.scope.join(' ') === 'repository:copy:pull,push repository:team/app:pull'),
    JSON.stringify(registry.tokens!.issued.slice(issued)),
  );
});

testUnless(firstReason(reasons.open, noUmoci))('what skopeo copies out of a push, umoci unpacks to the tree strata serves', async (t) => {
  const registry = await startRegistry(t, 'open');
  const { store, dir } = await storeWithDemo(t, `${registry.host}/demo:1`);
  await pushImage(store, `${registry.host}/demo:1`);
  const layout = path.join(dir, 'copied');
  await copyOutWithSkopeo(registry, 'demo:1', layout);
  const bundle = path.join(dir, 'bundle');
  const asRoot = process.getuid?.() === 0;
  await run('umoci', ['unpack', ...(asRoot ? [] : ['--rootless']), '--image', `${layout}:t`, bundle]);
  const image = await findImage(store, `${registry.host}/demo:1`);
  const served = await viewManifest(
    await imageView(
      store,
      image.layers.map((l) => l.chainId),
    ),
  );
  t.deepEqual(await dirManifest(path.join(bundle, 'rootfs')), served);
  t.true(served.length > 2, 'the image has files');
});
