import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pullImage, type PullEvent } from '../../src/transfer/pull.js';
import { saveImagesToFile } from '../../src/transfer/save.js';
import { pushImage } from '../../src/transfer/push.js';
import { digestOf } from '../../src/content/digest.js';
import { findImage } from '../../src/image/lookup.js';
import { imageView } from '../../src/image/view.js';
import { readTags } from '../../src/image/tags.js';
import { formatTreeTsv, listTree } from '../../src/resolver/tree.js';
import type { Store } from '../../src/store/root.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { strata } from '../helpers/cli.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import {
  basicRegistrySkipReason,
  manifestWithSkopeo,
  pushWithSkopeo,
  registrySkipReason,
  skopeoSkipReason,
  startRegistry,
  tokenRegistrySkipReason,
  type RegistryAuth,
} from '../helpers/registry.js';

const run = promisify(execFile);
const tools = firstReason(await skopeoSkipReason(), sharedSkipReason());
const reasons: Record<RegistryAuth, string | null> = {
  open: firstReason(await registrySkipReason(), tools),
  basic: firstReason(await basicRegistrySkipReason(), tools),
  token: firstReason(await tokenRegistrySkipReason(), tools),
};

// ../shared/conformance/images/{app,base}.oci.tar: app is base plus one small layer.
const APP = { archive: path.join(conformanceImages, 'app.oci.tar'), tsv: path.join(conformanceImages, 'app.rootfs.tsv') };
const BASE = path.join(conformanceImages, 'base.oci.tar');
const APP_MANIFEST = 'sha256:716671e5fa6f33ad906b25818261dd3388535337f30b98d18a8daa1c23e6c834';
const BASE_MANIFEST = 'sha256:bf82337f0910b9dad193c45b0bc0192487e8e7067cfea76606c4c00dd0191146';
const BASE_CONFIG = 'sha256:be88202612fb331be84461f085e0075039c8a04fe21cc916b21a8f694a178e12';
const APP_CONFIG = 'sha256:81d880b7ac0bf6c777541ce5fef83005820d57f32858b068a6dad5ed80ca28f6';
const APP_LAYERS = [
  'sha256:569eefd614caf0f5ed4ea1277c3f73aff587bc2770c5040b6bd3bf9b5b9440bc',
  'sha256:52d0cb720b12990feac9c5a75b135ed183be1545716170319d04d35af1eae6fa',
];

async function mergedTree(store: Store, id: string): Promise<string> {
  const image = await findImage(store, id);
  return formatTreeTsv(
    await listTree(
      await imageView(
        store,
        image.layers.map((l) => l.chainId),
      ),
    ),
  );
}

/** The layers a pull fetched (short IDs), from its events. */
function fetchedLayers(events: PullEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'layer-start' ? [e.id] : []));
}

for (const auth of ['open', 'basic', 'token'] as const) {
  testUnless(reasons[auth])(`${auth} registry: a skopeo push pulled back is the same image, digests and merged tree`, async (t) => {
    const registry = await startRegistry(t, auth);
    await pushWithSkopeo(registry, APP.archive, 'team/app:1.0');
    const { store } = await tmpStore(t);
    const credentials = auth === 'open' ? undefined : { username: registry.username, password: registry.password };
    const pulled = await pullImage(store, `${registry.host}/team/app:1.0`, { credentials: () => credentials });
    t.deepEqual(pulled, { id: APP_CONFIG, reference: `${registry.host}/team/app:1.0`, digest: APP_MANIFEST, updated: true });
    const image = await findImage(store, APP_CONFIG);
    t.is(image.manifestDigest, APP_MANIFEST);
    t.deepEqual(image.repoDigests, [`${registry.host}/team/app@${APP_MANIFEST}`]);
    t.deepEqual(
      image.layers.map((l) => l.blobDigest),
      APP_LAYERS,
    );
    // The manifest is kept byte for byte, so save and push keep its digest.
    t.is((await fs.readFile(store.paths.blob(APP_MANIFEST))).length, 504);
    t.deepEqual(await readTags(store), { [`${registry.host}/team/app:1.0`]: APP_CONFIG });
    t.is(await mergedTree(store, APP_CONFIG), await fs.readFile(APP.tsv, 'utf8'));
  });
}

testUnless(reasons.open)('a second pull fetches nothing and says the image is up to date', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP.archive, 'app:1.0');
  const { store } = await tmpStore(t);
  await pullImage(store, `${registry.host}/app:1.0`);
  const before = await snapshotContent(store.root);
  const events: PullEvent[] = [];
  const again = await pullImage(store, `${registry.host}/app:1.0`, { onEvent: (e) => events.push(e) });
  t.false(again.updated);
  t.deepEqual(fetchedLayers(events), []);
  t.deepEqual(await snapshotContent(store.root), before);
});

testUnless(reasons.open)('with the base image in the store, pulling the app fetches only its new layer', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, BASE, 'base:1.0');
  await pushWithSkopeo(registry, APP.archive, 'app:1.0');
  const { store } = await tmpStore(t);
  await pullImage(store, `${registry.host}/base:1.0`);
  const events: PullEvent[] = [];
  await pullImage(store, `${registry.host}/app:1.0`, { onEvent: (e) => events.push(e) });
  t.deepEqual(fetchedLayers(events), ['52d0cb720b12']);
  t.deepEqual(
    events.find((e) => e.type === 'layers'),
    {
      type: 'layers',
      ids: [
        { id: '569eefd614ca', present: true },
        { id: '52d0cb720b12', present: false },
      ],
      imageStored: false,
    },
  );
  t.is(await mergedTree(store, APP_CONFIG), await fs.readFile(APP.tsv, 'utf8'));
});

testUnless(reasons.open)('a pull by digest stores the image untagged', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP.archive, 'app:1.0');
  const { store } = await tmpStore(t);
  const pulled = await pullImage(store, `${registry.host}/app@${APP_MANIFEST}`);
  t.deepEqual(pulled, { id: APP_CONFIG, reference: `${registry.host}/app@${APP_MANIFEST}`, digest: APP_MANIFEST, updated: true });
  t.deepEqual(await readTags(store), {});
});

testUnless(reasons.open)('a failed pull leaves the store as it was', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, BASE, 'base:1.0');
  await pushWithSkopeo(registry, APP.archive, 'app:1.0');
  const { store } = await tmpStore(t);
  await pullImage(store, `${registry.host}/base:1.0`);
  const before = await snapshotContent(store.root);
  await t.throwsAsync(pullImage(store, `${registry.host}/app:nope`), { code: 'ENOTFOUND' });
  // A layer blob the registry lost: the config is fetched and the base layer found, then it fails.
  await fs.rm(
    path.join(registry.storage, 'docker/registry/v2/blobs/sha256/52/52d0cb720b12990feac9c5a75b135ed183be1545716170319d04d35af1eae6fa'),
    {
      recursive: true,
    },
  );
  await t.throwsAsync(pullImage(store, `${registry.host}/app:1.0`, { maxConcurrentDownloads: 1 }), {
    code: 'ENOTFOUND',
    message: `${registry.host}/app@sha256:52d0cb720b12990feac9c5a75b135ed183be1545716170319d04d35af1eae6fa not found: blob unknown: blob unknown to registry`,
  });
  t.deepEqual(await snapshotContent(store.root), before);
});

testUnless(reasons.open)('a pulled image saved again keeps its manifest digest', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP.archive, 'app:1.0');
  const { store, dir } = await tmpStore(t);
  await pullImage(store, `${registry.host}/app:1.0`);
  const saved = path.join(dir, 'saved.tar');
  await saveImagesToFile(store, [`${registry.host}/app:1.0`], saved);
  const { stdout } = await promisify(execFile)('tar', ['-xOf', saved, 'index.json']);
  const index = JSON.parse(stdout) as { manifests: { digest: string }[] };
  t.deepEqual(
    index.manifests.map((m) => m.digest),
    [APP_MANIFEST],
  );
});

/** PUTs an OCI index into the registry (its manifests must be there already). */
function putIndex(host: string, repositoryTag: string, index: { mediaType: string }): Promise<number> {
  const [repository, tag] = repositoryTag.split(':');
  const body = Buffer.from(JSON.stringify(index));
  return new Promise((resolve, reject) => {
    const req = http.request(`http://${host}/v2/${repository}/manifests/${tag}`, {
      method: 'PUT',
      headers: { 'content-type': index.mediaType, 'content-length': body.length },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(body);
  });
}

testUnless(reasons.open)('from a multi-platform index, pull takes the --platform asked for, as Docker picks it', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, BASE, 'multi:base');
  await pushWithSkopeo(registry, APP.archive, 'multi:app');
  const manifest = (digest: string, size: number, platform: Record<string, string>) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest,
    size,
    platform,
  });
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      manifest(BASE_MANIFEST, 350, { os: 'linux', architecture: 'arm', variant: 'v6' }),
      manifest(APP_MANIFEST, 504, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    ],
  };
  t.is(await putIndex(registry.host, 'multi:1.0', index), 201);
  const { store } = await tmpStore(t);
  const arm64 = await pullImage(store, `${registry.host}/multi:1.0`, { platform: 'linux/aarch64' });
  t.is(arm64.id, APP_CONFIG);
  t.is(arm64.digest, digestOf(Buffer.from(JSON.stringify(index))));
  // Docker's DIGEST column: the digest the repository knows the image by, the index's.
  const listed = await strata(store.root, ['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}']);
  t.is(listed.stdout, `${registry.host}/multi 1.0 ${arm64.digest}\n`);
  t.is((await findImage(store, APP_CONFIG)).manifestDigest, APP_MANIFEST);
  // An ARMv7 CPU runs ARMv6 images.
  t.is((await pullImage(store, `${registry.host}/multi:1.0`, { platform: 'linux/arm/v7' })).id, BASE_CONFIG);
  await t.throwsAsync(pullImage(store, `${registry.host}/multi:1.0`, { platform: 'linux/s390x' }), {
    code: 'EPLATFORM',
    message: `no matching manifest for linux/s390x in the manifest list entries (index ${arm64.digest} has linux/arm/v6, linux/arm64/v8)`,
  });
});

testUnless(reasons.open)(
  'a Docker manifest list of Docker schema 2 manifests is pulled as Docker pulls it, and pushed back unchanged',
  async (t) => {
    const registry = await startRegistry(t, 'open');
    const toDocker = (archive: string, tag: string) =>
      run('skopeo', [
        'copy',
        '-q',
        '--dest-tls-verify=false',
        '--format',
        'v2s2',
        `oci-archive:${archive}`,
        `docker://${registry.host}/dock:${tag}`,
      ]);
    await toDocker(BASE, 'base');
    await toDocker(APP.archive, 'app');
    const schema2 = 'application/vnd.docker.distribution.manifest.v2+json';
    const entry = async (tag: string, platform: Record<string, string>) => {
      const bytes = await manifestWithSkopeo(registry, `dock:${tag}`);
      t.is((JSON.parse(bytes.toString()) as { mediaType: string }).mediaType, schema2);
      return { mediaType: schema2, digest: digestOf(bytes), size: bytes.length, platform };
    };
    const list = {
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: [
        await entry('base', { os: 'linux', architecture: 'arm', variant: 'v6' }),
        await entry('app', { os: 'linux', architecture: 'arm64' }),
      ],
    };
    t.is(await putIndex(registry.host, 'dock:multi', list), 201);
    const { store } = await tmpStore(t);
    const pulled = await pullImage(store, `${registry.host}/dock:multi`, { platform: 'linux/arm64/v8' });
    t.is(pulled.id, APP_CONFIG, 'the same config: the format changed the manifest, not the image');
    t.is(pulled.digest, digestOf(Buffer.from(JSON.stringify(list))));
    t.is(await mergedTree(store, APP_CONFIG), await fs.readFile(APP.tsv, 'utf8'));
    const image = await findImage(store, APP_CONFIG);
    t.is(image.manifestDigest, list.manifests[1]!.digest);
    // Pushed to another repository: the schema 2 bytes as they were, so the same digest.
    t.is((await strata(store.root, ['tag', `${registry.host}/dock:multi`, `${registry.host}/again:1`])).code, 0);
    const pushed = await pushImage(store, `${registry.host}/again:1`);
    t.is(pushed.digest, list.manifests[1]!.digest);
    t.is(digestOf(await manifestWithSkopeo(registry, 'again:1')), pushed.digest);
  },
);
