import fs from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import type { ExecutionContext } from 'ava';
import { RegistryClient } from '../../src/registry/client.js';
import { RegistryTls, type TrustSources } from '../../src/registry/tls-trust.js';
import { repoRoot, strataProcess } from '../helpers/cli.js';
import { startRegistry, tokenRegistrySkipReason } from '../helpers/registry.js';
import { testUnless } from '../helpers/skip.js';
import { makeTestCa } from '../helpers/test-ca.js';
import { tmpStore } from '../helpers/tmp-store.js';

// The token setup's reason covers both tools these tests need: docker-registry and openssl.
const withTls = testUnless(await tokenRegistrySkipReason());
const DEMO = path.join(repoRoot, 'fixtures', 'demo.tar');

/** A temp dir, a CA made in it, and a registry serving HTTPS with that CA's certificate (asking clients for one with `clientCas`). */
async function tlsRegistry(t: ExecutionContext, options: { clientCas?: boolean } = {}) {
  const { dir } = await tmpStore(t);
  const ca = await makeTestCa(path.join(dir, 'ca'));
  const tls = { certificate: ca.serverCert, key: ca.serverKey, ...(options.clientCas ? { clientCas: ca.caCert } : {}) };
  return { dir, ca, registry: await startRegistry(t, 'open', { tls }) };
}

withTls(
  'a loopback registry served over TLS is pushed to and pulled from over HTTPS, its certificate unchecked, as Docker treats insecure registries',
  async (t) => {
    const { dir, registry } = await tlsRegistry(t);
    const env = { STRATA_CERTS_DIR: path.join(dir, 'certs.d') };
    const root = path.join(dir, 'one');
    t.is((await strataProcess(root, ['load', '-q', '-i', DEMO], { env })).code, 0);
    t.is((await strataProcess(root, ['tag', 'demo:latest', `${registry.host}/demo:1`], { env })).code, 0);
    const push = await strataProcess(root, ['push', '-q', `${registry.host}/demo:1`], { env });
    t.deepEqual([push.code, push.stderr], [0, '']);
    const other = path.join(dir, 'two');
    const pull = await strataProcess(other, ['pull', '-q', `${registry.host}/demo:1`], { env });
    t.deepEqual([pull.code, pull.stdout, pull.stderr], [0, `${registry.host}/demo:1\n`, '']);
    const ids = async (store: string) => (await strataProcess(store, ['images', '-q', '--no-trunc'], { env })).stdout;
    t.is(await ids(other), await ids(root));
  },
);

withTls(
  'a registry that asks for a client certificate gets the one in its certs.d directory; without one, one line naming the registry, and nothing pushed',
  async (t) => {
    const { dir, ca, registry } = await tlsRegistry(t, { clientCas: true });
    const root = path.join(dir, 'one');
    t.is((await strataProcess(root, ['load', '-q', '-i', DEMO])).code, 0);
    t.is((await strataProcess(root, ['tag', 'demo:latest', `${registry.host}/demo:1`])).code, 0);

    const noCertificate = { STRATA_CERTS_DIR: path.join(dir, 'empty-certs.d') };
    const refused = await strataProcess(root, ['push', '-q', `${registry.host}/demo:1`], { env: noCertificate });
    t.is(refused.code, 1);
    t.regex(refused.stderr, new RegExp(`^strata: ${registry.host}: .*certificate.*\\n$`, 'i'));
    t.deepEqual(await fs.readdir(registry.storage).catch(() => []), [], 'the registry stored nothing');

    // Docker's layout: certs.d/HOST:PORT/NAME.cert with NAME.key beside it.
    const certsDir = path.join(dir, 'certs.d');
    await fs.mkdir(path.join(certsDir, registry.host), { recursive: true });
    await fs.copyFile(ca.clientCert, path.join(certsDir, registry.host, 'client.cert'));
    await fs.copyFile(ca.clientKey, path.join(certsDir, registry.host, 'client.key'));
    const env = { STRATA_CERTS_DIR: certsDir };
    t.is((await strataProcess(root, ['push', '-q', `${registry.host}/demo:1`], { env })).code, 0);
    const pull = await strataProcess(path.join(dir, 'two'), ['pull', '-q', `${registry.host}/demo:1`], { env });
    t.deepEqual([pull.code, pull.stderr], [0, '']);

    // A key without its certificate is the user's mistake, said as Docker says it.
    await fs.rm(path.join(certsDir, registry.host, 'client.cert'));
    const halfPair = await strataProcess(path.join(dir, 'three'), ['pull', '-q', `${registry.host}/demo:1`], { env });
    t.deepEqual(
      [halfPair.code, halfPair.stderr],
      [1, `strata: ${path.join(certsDir, registry.host, 'client.key')}: missing client certificate client.cert\n`],
    );
  },
);

withTls(
  "a registry's certificate is checked against the system CA bundle ($SSL_CERT_FILE), NODE_EXTRA_CA_CERTS and its certs.d *.crt; one none of them signed is refused",
  async (t) => {
    const { dir, ca, registry } = await tlsRegistry(t);
    // As a registry that is neither loopback nor listed insecure is reached: HTTPS, checked.
    const login = (sources: TrustSources) =>
      new RegistryClient(
        { name: registry.host, origin: `https://${registry.host}`, insecure: false },
        { tls: new RegistryTls(registry.host, false, sources) },
      ).checkLogin();
    const emptyCertsDir = path.join(dir, 'empty-certs.d');
    // A system bundle without the test CA: Mozilla's list, as Node carries it.
    const publicBundle = path.join(dir, 'public.pem');
    await fs.writeFile(publicBundle, tls.rootCertificates.join('\n'));

    const refused = await t.throwsAsync(login({ caFile: publicBundle, certsDir: emptyCertsDir }));
    t.regex(refused?.message ?? '', new RegExp(`^${registry.host}: .*certificate`, 'i'));
    t.true(
      refused?.message.endsWith(` (put its CA in the system CA bundle or in ${path.join(emptyCertsDir, registry.host, 'ca.crt')})`),
      'it says where the CA would be trusted from',
    );
    t.notRegex(refused?.message ?? '', /\n/);

    const withTestCa = path.join(dir, 'system-with-test-ca.pem');
    await fs.writeFile(withTestCa, `${tls.rootCertificates.join('\n')}\n${await fs.readFile(ca.caCert, 'utf8')}`);
    await t.notThrowsAsync(login({ caFile: withTestCa, certsDir: emptyCertsDir }), '$SSL_CERT_FILE holding the CA');
    await t.notThrowsAsync(login({ caFile: publicBundle, extraCaFile: ca.caCert, certsDir: emptyCertsDir }), 'NODE_EXTRA_CA_CERTS');
    // Node only warns about a NODE_EXTRA_CA_CERTS it cannot read; it stops nothing.
    const missing = path.join(dir, 'no-such.pem');
    await t.notThrowsAsync(login({ caFile: withTestCa, extraCaFile: missing, certsDir: emptyCertsDir }), 'unreadable NODE_EXTRA_CA_CERTS');
    const certsDir = path.join(dir, 'certs.d');
    await fs.mkdir(path.join(certsDir, registry.host), { recursive: true });
    await fs.copyFile(ca.caCert, path.join(certsDir, registry.host, 'ca.crt'));
    await t.notThrowsAsync(login({ caFile: publicBundle, certsDir }), 'certs.d/HOST:PORT/ca.crt');
    // The directory is the registry's own: another registry's CA does not vouch for this one.
    await fs.rename(path.join(certsDir, registry.host), path.join(certsDir, 'other.example:443'));
    await t.throwsAsync(login({ caFile: publicBundle, certsDir }));
  },
);
