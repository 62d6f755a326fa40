import path from 'node:path';
import { createHash } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { firstReason, testUnless } from '../helpers/skip.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import {
  basicRegistrySkipReason,
  pushWithSkopeo,
  registrySkipReason,
  skopeoSkipReason,
  startRegistry,
  tokenRegistrySkipReason,
  type RegistryAuth,
} from '../helpers/registry.js';
import { RegistryClient } from '../../src/registry/client.js';
import { registryEndpoint } from '../../src/registry/endpoint.js';

const tools = firstReason(await skopeoSkipReason(), sharedSkipReason());
const reasons: Record<RegistryAuth, string | null> = {
  open: firstReason(await registrySkipReason(), tools),
  basic: firstReason(await basicRegistrySkipReason(), tools),
  token: firstReason(await tokenRegistrySkipReason(), tools),
};
const APP = path.join(conformanceImages, 'app.oci.tar');
const APP_MANIFEST = 'sha256:716671e5fa6f33ad906b25818261dd3388535337f30b98d18a8daa1c23e6c834';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

for (const auth of ['open', 'basic', 'token'] as const) {
  testUnless(reasons[auth])(`${auth} registry: the manifest by tag and by digest, and blobs whole and from an offset`, async (t) => {
    const registry = await startRegistry(t, auth);
    await pushWithSkopeo(registry, APP, 'team/app:1.0');
    const tokensBefore = registry.tokens?.issued.length ?? 0;
    const client = new RegistryClient(registryEndpoint(registry.host), {
      credentials: auth === 'open' ? undefined : { username: registry.username, password: registry.password },
    });
    const byTag = await client.manifest('team/app', '1.0');
    t.is(byTag.digest, APP_MANIFEST);
    t.is(byTag.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    const byDigest = await client.manifest('team/app', APP_MANIFEST);
    t.deepEqual(byDigest.bytes, byTag.bytes);
    const manifest = JSON.parse(byTag.bytes.toString()) as { config: { digest: string; size: number } };
    const whole = await client.blob('team/app', manifest.config.digest);
    const config = await buffer(whole.body);
    t.is(whole.start, 0);
    t.is(sha256(config), manifest.config.digest);
    t.is(config.length, manifest.config.size);
    const tail = await client.blob('team/app', manifest.config.digest, 100);
    t.is(tail.start, 100);
    t.deepEqual(await buffer(tail.body), config.subarray(100));
    // One token, fetched once with the credentials, served every request.
    if (auth === 'token')
      t.deepEqual(registry.tokens!.issued.slice(tokensBefore), [{ scope: ['repository:team/app:pull'], user: registry.username }]);
  });
}

testUnless(reasons.open)('a tag the registry does not have is one line in Docker words', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP, 'app:1.0');
  const client = new RegistryClient(registryEndpoint(registry.host));
  await t.throwsAsync(client.manifest('app', 'nope'), {
    code: 'ENOTFOUND',
    message: `manifest for ${registry.host}/app:nope not found: manifest unknown: manifest unknown`,
  });
});

testUnless(reasons.basic)('wrong or missing credentials are EUNAUTHORIZED, after one try with them', async (t) => {
  const registry = await startRegistry(t, 'basic');
  const wrong = new RegistryClient(registryEndpoint(registry.host), { credentials: { username: registry.username, password: 'nope' } });
  await t.throwsAsync(wrong.manifest('app', '1.0'), {
    code: 'EUNAUTHORIZED',
    message: `manifest for ${registry.host}/app:1.0: access denied, the repository does not exist or needs 'strata login': unauthorized: authentication required`,
  });
  const none = new RegistryClient(registryEndpoint(registry.host));
  await t.throwsAsync(none.manifest('app', '1.0'), { code: 'EUNAUTHORIZED' });
});

testUnless(reasons.token)('a token server that refuses the credentials is EUNAUTHORIZED', async (t) => {
  const registry = await startRegistry(t, 'token');
  const wrong = new RegistryClient(registryEndpoint(registry.host), { credentials: { username: registry.username, password: 'nope' } });
  await t.throwsAsync(wrong.manifest('app', '1.0'), {
    code: 'EUNAUTHORIZED',
    message: `${registry.host}: unauthorized: incorrect username or password`,
  });
});

testUnless(reasons.token)('a token the registry finds expired is dropped and a new one fetched', async (t) => {
  const registry = await startRegistry(t, 'token');
  await pushWithSkopeo(registry, APP, 'app:1.0');
  const client = new RegistryClient(registryEndpoint(registry.host), {
    credentials: { username: registry.username, password: registry.password },
  });
  const before = registry.tokens!.issued.length;
  registry.tokens!.expiredNext = 1;
  t.is((await client.manifest('app', '1.0')).digest, APP_MANIFEST);
  t.is(registry.tokens!.issued.length - before, 2, 'the expired token, then a good one');
  registry.tokens!.expiredNext = 1;
  // The cached token is still good: nothing new is fetched.
  t.is((await client.manifest('app', '1.0')).digest, APP_MANIFEST);
  t.is(registry.tokens!.issued.length - before, 2);
});
