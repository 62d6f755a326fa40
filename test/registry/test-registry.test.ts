import http from 'node:http';
import { testUnless } from '../helpers/skip.js';
import { basicRegistrySkipReason, registrySkipReason, startRegistry, tokenRegistrySkipReason } from '../helpers/registry.js';

const withRegistry = testUnless(await registrySkipReason());
const withBasic = testUnless(await basicRegistrySkipReason());
const withToken = testUnless(await tokenRegistrySkipReason());

function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      })
      .on('error', reject);
  });
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

withRegistry('the open setup answers the API ping anonymously on loopback, and is gone after the test', async (t) => {
  let host = '';
  await t
    .try(async (tt) => {
      const registry = await startRegistry(tt, 'open');
      host = registry.host;
      const ping = await get(`http://${registry.host}/v2/`);
      tt.is(ping.status, 200);
      tt.is(ping.headers['docker-distribution-api-version'], 'registry/2.0');
      tt.regex(registry.host, /^127\.0\.0\.1:\d+$/);
    })
    .then((attempt) => attempt.commit());
  await t.throwsAsync(get(`http://${host}/v2/`), { code: 'ECONNREFUSED' });
});

withBasic('the basic setup challenges with Basic and accepts only its user', async (t) => {
  const registry = await startRegistry(t, 'basic');
  const anonymous = await get(`http://${registry.host}/v2/`);
  t.is(anonymous.status, 401);
  t.is(anonymous.headers['www-authenticate'], 'Basic realm="basic-realm"');
  t.is((await get(`http://${registry.host}/v2/`, basic(registry.username, 'wrong'))).status, 401);
  t.is((await get(`http://${registry.host}/v2/`, basic(registry.username, registry.password))).status, 200);
});

withToken('the token setup challenges with Bearer and accepts the tokens its token server signs', async (t) => {
  const registry = await startRegistry(t, 'token');
  const challenge = await get(`http://${registry.host}/v2/x/tags/list`);
  t.is(challenge.status, 401);
  const header = challenge.headers['www-authenticate'] ?? '';
  const realm = /realm="([^"]+)"/.exec(header)?.[1] ?? '';
  t.regex(header, /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service="strata-test-registry",scope="repository:x:pull"/);
  const tokenUrl = `${realm}?service=strata-test-registry&scope=repository:x:pull`;
  const granted = JSON.parse((await get(tokenUrl, basic(registry.username, registry.password))).body) as { token: string };
  const withToken = await get(`http://${registry.host}/v2/x/tags/list`, { authorization: `Bearer ${granted.token}` });
  // Authorised: the repository is simply unknown.
  t.is(withToken.status, 404);
  t.regex(withToken.body, /NAME_UNKNOWN/);
  const anonymousToken = JSON.parse((await get(tokenUrl)).body) as { token: string };
  t.is((await get(`http://${registry.host}/v2/x/tags/list`, { authorization: `Bearer ${anonymousToken.token}` })).status, 401);
  t.deepEqual(registry.tokens?.issued, [
    { scope: ['repository:x:pull'], user: registry.username },
    { scope: ['repository:x:pull'], user: null },
  ]);
});
