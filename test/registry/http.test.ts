import http from 'node:http';
import type net from 'node:net';
import zlib from 'node:zlib';
import { buffer } from 'node:stream/consumers';
import test, { type ExecutionContext } from 'ava';
import { RegistryClient } from '../../src/registry/client.js';
import { registryEndpoint } from '../../src/registry/endpoint.js';
import { digestOf } from '../../src/content/digest.js';

/** A hostile or quirky registry on loopback: `handler` answers every request. */
async function server(t: ExecutionContext, handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  );
  return `127.0.0.1:${(s.address() as net.AddressInfo).port}`;
}

const BLOB = zlib.gzipSync(Buffer.from('layer bytes '.repeat(100)));
const BLOB_DIGEST = digestOf(BLOB);
const creds = { username: 'u', password: 'p' };
const BASIC = `Basic ${Buffer.from('u:p').toString('base64')}`;

test('a blob redirected to another host is fetched there without the registry Authorization', async (t) => {
  const seen: (string | undefined)[] = [];
  const storage = await server(t, (req, res) => {
    seen.push(req.headers.authorization);
    res.end(BLOB);
  });
  const host = await server(t, (req, res) => {
    if (req.headers.authorization !== BASIC) res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
    else res.writeHead(307, { location: `http://${storage}/blob?sig=1` }).end();
  });
  const client = new RegistryClient(registryEndpoint(host), { credentials: creds });
  const blob = await client.blob('x', BLOB_DIGEST);
  t.deepEqual(await buffer(blob.body), BLOB);
  t.deepEqual(seen, [undefined]);
});

test('a blob served with Content-Encoding: gzip comes back as stored, not decoded', async (t) => {
  const host = await server(t, (_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(BLOB));
  const blob = await new RegistryClient(registryEndpoint(host)).blob('x', BLOB_DIGEST);
  t.is(digestOf(await buffer(blob.body)), BLOB_DIGEST);
});

test('a redirect loop stops after 10 hops with one line', async (t) => {
  const host = await server(t, (req, res) => res.writeHead(302, { location: `${req.url}x` }).end());
  await t.throwsAsync(new RegistryClient(registryEndpoint(host)).blob('x', BLOB_DIGEST), {
    code: 'EREGISTRY',
    message: `${host}: more than 10 redirects for /v2/x/blobs/${BLOB_DIGEST}`,
  });
});

test('a manifest larger than 4 MiB is refused from its Content-Length, and without one as it streams', async (t) => {
  let chunked = false;
  const host = await server(t, (_req, res) => {
    const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    if (chunked) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(huge.subarray(0, 1024));
      res.end(huge.subarray(1024));
    } else res.writeHead(200, { 'content-length': huge.length }).end(huge);
  });
  const client = new RegistryClient(registryEndpoint(host));
  await t.throwsAsync(client.manifest('x', 'big'), {
    code: 'ELIMIT',
    message: `${host}: manifest ${host}/x:big is 4194305 bytes, more than the 4194304 allowed`,
  });
  chunked = true;
  await t.throwsAsync(client.manifest('x', 'big'), {
    code: 'ELIMIT',
    message: `${host}: manifest ${host}/x:big is more than the 4194304 bytes allowed`,
  });
});

test('a manifest whose bytes are not the digest asked for, or not its Docker-Content-Digest, is EINTEGRITY', async (t) => {
  const body = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
  const other = digestOf(Buffer.from('other'));
  const host = await server(t, (_req, res) => res.writeHead(200, { 'docker-content-digest': other }).end(body));
  const client = new RegistryClient(registryEndpoint(host));
  await t.throwsAsync(client.manifest('x', other), {
    code: 'EINTEGRITY',
    message: `${host}/x:${other}: manifest digest is ${digestOf(body)}, not the ${other} asked for`,
  });
  await t.throwsAsync(client.manifest('x', 'latest'), {
    code: 'EINTEGRITY',
    message: `${host}/x:latest: Docker-Content-Digest says ${other}, but the manifest is ${digestOf(body)}`,
  });
});

test('a server that stops sending mid-blob is given up on after the idle timeout', async (t) => {
  const host = await server(t, (_req, res) => {
    res.writeHead(200, { 'content-length': 1000 });
    res.write(Buffer.alloc(10));
  });
  const client = new RegistryClient(registryEndpoint(host), { limits: { idleTimeoutMs: 200, maxRedirects: 10 } });
  const blob = await client.blob('x', BLOB_DIGEST);
  await t.throwsAsync(buffer(blob.body), {
    code: 'EREGISTRY',
    message: `${host}: no data for 0.2 s, giving up on /v2/x/blobs/${BLOB_DIGEST}`,
  });
});

test('a server that drips a blob is given up on once it stays under the low-speed limit for the window', async (t) => {
  const host = await server(t, (_req, res) => {
    res.writeHead(200, { 'content-length': 100_000 });
    // 100 bytes/s: never silent long enough for the idle timeout.
    const timer = setInterval(() => res.write(Buffer.alloc(10)), 100);
    res.on('close', () => clearInterval(timer));
  });
  const client = new RegistryClient(registryEndpoint(host), { limits: { lowSpeed: { bytesPerSecond: 1024, windowMs: 500 } } });
  const blob = await client.blob('x', BLOB_DIGEST);
  const started = Date.now();
  await t.throwsAsync(buffer(blob.body), {
    code: 'EREGISTRY',
    message: new RegExp(`^${host}: \\d+ bytes/s over 0\\.5 s, under the 1024 bytes/s minimum, giving up on /v2/x/blobs/${BLOB_DIGEST}$`),
  });
  const took = Date.now() - started;
  t.true(took >= 450 && took < 2000, `gave up after ${took} ms`);
});

test('a low-speed limit of 0 lets a slow server finish', async (t) => {
  const host = await server(t, (_req, res) => {
    res.writeHead(200, { 'content-length': 100 });
    let sent = 0;
    const timer = setInterval(() => {
      res.write(Buffer.alloc(10, 7));
      if ((sent += 10) === 100) {
        clearInterval(timer);
        res.end();
      }
    }, 60);
  });
  const client = new RegistryClient(registryEndpoint(host), { limits: { lowSpeed: { bytesPerSecond: 0, windowMs: 200 } } });
  const blob = await client.blob('x', BLOB_DIGEST);
  t.deepEqual(await buffer(blob.body), Buffer.alloc(100, 7));
});

test('a reader that stops taking a blob for longer than the low-speed window does not make the server slow', async (t) => {
  const body = Buffer.alloc(4 * 1024 * 1024, 1);
  const host = await server(t, (_req, res) => res.writeHead(200, { 'content-length': body.length }).end(body));
  const client = new RegistryClient(registryEndpoint(host), { limits: { lowSpeed: { bytesPerSecond: 1024, windowMs: 300 } } });
  const blob = await client.blob('x', BLOB_DIGEST);
  // Nothing is read for four windows: the server is held back by us, not slow.
  await new Promise((r) => setTimeout(r, 1200));
  t.is((await buffer(blob.body)).length, body.length);
});

test('a manifest that trickles in above the low-speed limit is still cut off at the small-body deadline', async (t) => {
  const host = await server(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    // 4 KiB/s, above the 1 KiB/s minimum, for ever.
    const timer = setInterval(() => res.write(Buffer.alloc(400, 0x20)), 100);
    res.on('close', () => clearInterval(timer));
  });
  const client = new RegistryClient(registryEndpoint(host), {
    limits: { lowSpeed: { bytesPerSecond: 1024, windowMs: 300 }, smallBodyTimeoutMs: 800 },
  });
  const started = Date.now();
  await t.throwsAsync(client.manifest('x', 'slow'), {
    code: 'EREGISTRY',
    message: `${host}: manifest ${host}/x:slow not complete after 0.8 s, giving up on /v2/x/manifests/slow`,
  });
  t.true(Date.now() - started < 3000);
});

test('plain HTTP only for loopback registries and those listed insecure', (t) => {
  t.is(registryEndpoint('localhost:5000').origin, 'http://localhost:5000');
  t.is(registryEndpoint('127.0.0.1:5000').origin, 'http://127.0.0.1:5000');
  t.is(registryEndpoint('[::1]:5000').origin, 'http://[::1]:5000');
  t.is(registryEndpoint('registry.example:5000').origin, 'https://registry.example:5000');
  t.is(registryEndpoint('docker.io').origin, 'https://registry-1.docker.io');
  t.is(registryEndpoint('registry.example:5000', { insecureRegistries: ['registry.example:5000'] }).origin, 'http://registry.example:5000');
  t.is(registryEndpoint('registry.example:5000', { insecureRegistries: ['registry.example'] }).origin, 'http://registry.example:5000');
  t.is(registryEndpoint('10.1.2.3:5000', { insecureRegistries: ['10.0.0.0/8'] }).origin, 'http://10.1.2.3:5000');
  t.is(registryEndpoint('11.1.2.3:5000', { insecureRegistries: ['10.0.0.0/8'] }).origin, 'https://11.1.2.3:5000');
});

test('a Bearer realm over plain HTTP on a non-loopback host is refused before credentials go there', async (t) => {
  const host = await server(t, (_req, res) =>
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://auth.example/token",service="s"' }).end(),
  );
  await t.throwsAsync(new RegistryClient(registryEndpoint(host), { credentials: creds }).manifest('x', 'latest'), {
    code: 'EREGISTRY',
    message: `${host}: refusing token realm http://auth.example (not https)`,
  });
});
