/**
 * A real distribution server (Debian's `docker-registry`, distribution 2.8) for tests:
 * on 127.0.0.1 with a free port and its own temporary storage, in one of three setups —
 * open, htpasswd Basic auth, or token auth with a small token server started here.
 * Stopped and removed when the test ends.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { commandSkipReason } from './tools.js';
import { firstReason } from './skip.js';

const run = promisify(execFile);

export type RegistryAuth = 'open' | 'basic' | 'token';

export interface TestRegistry {
  /** `127.0.0.1:PORT`, as an image reference names the registry. */
  host: string;
  auth: RegistryAuth;
  /** The user the basic and token setups accept (the open one ignores it). */
  username: string;
  password: string;
  /** The token server of the token setup: how many tokens it issued, and for which scopes. */
  tokens?: TokenServerState;
  /** The registry's storage directory. */
  storage: string;
}

export const REGISTRY_USER = 'strata';
export const REGISTRY_PASSWORD = 'pull-and-push';
const TOKEN_SERVICE = 'strata-test-registry';
const TOKEN_ISSUER = 'strata-test-issuer';

/** Why registry tests cannot run here, or null. */
export function registrySkipReason(): Promise<string | null> {
  return commandSkipReason('docker-registry', ['--version'], 'docker-registry (the distribution server) is not installed');
}

/** The Basic setup makes its htpasswd bcrypt line with python3's crypt module, as 2.8 accepts it. */
export async function basicRegistrySkipReason(): Promise<string | null> {
  return firstReason(
    await registrySkipReason(),
    await commandSkipReason(
      'python3',
      ['-W', 'ignore', '-c', 'import crypt; crypt.METHOD_BLOWFISH'],
      'python3 with the crypt module is not installed',
    ),
  );
}

/** The token setup signs its tokens with a key whose certificate openssl makes. */
export async function tokenRegistrySkipReason(): Promise<string | null> {
  return firstReason(await registrySkipReason(), await commandSkipReason('openssl', ['version'], 'openssl is not installed'));
}

export function skopeoSkipReason(): Promise<string | null> {
  return commandSkipReason('skopeo', ['--version'], 'skopeo is not installed');
}

/** Starts a registry in `auth`'s setup; it is stopped and its storage removed when `t` ends. */
export async function startRegistry(
  t: ExecutionContext,
  auth: RegistryAuth = 'open',
  options: {
    /** Locations relative to the host, as the spec allows. */
    relativeUrls?: boolean;
    /** Serve HTTPS with this certificate; with `clientCas`, also ask clients for a certificate signed by one of them. */
    tls?: { certificate: string; key: string; clientCas?: string };
  } = {},
) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-registry-'));
  const stops: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const stop of stops.reverse()) await stop();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const registry: TestRegistry = {
    host: '',
    auth,
    username: REGISTRY_USER,
    password: REGISTRY_PASSWORD,
    storage: path.join(dir, 'data'),
  };
  let authConfig = '';
  if (auth === 'basic') {
    await fs.writeFile(path.join(dir, 'htpasswd'), `${REGISTRY_USER}:${await bcrypt(REGISTRY_PASSWORD)}\n`);
    authConfig = `auth: {htpasswd: {realm: basic-realm, path: ${path.join(dir, 'htpasswd')}}}\n`;
  } else if (auth === 'token') {
    const server = await startTokenServer(dir);
    stops.push(server.stop);
    registry.tokens = server.tokens;
    authConfig =
      `auth: {token: {realm: "${server.realm}", service: ${TOKEN_SERVICE}, issuer: ${TOKEN_ISSUER}, ` +
      `rootcertbundle: ${server.certificate}}}\n`;
  }
  // Another process may take the free port before the registry binds it: then try another.
  for (let attempt = 1; ; attempt++) {
    registry.host = `127.0.0.1:${await freePort()}`;
    const config = path.join(dir, 'config.yml');
    await fs.writeFile(
      config,
      'version: 0.1\n' +
        'log: {level: warn}\n' +
        `storage: {filesystem: {rootdirectory: ${registry.storage}}, delete: {enabled: true}}\n` +
        `http: {addr: "${registry.host}"${options.relativeUrls ? ', relativeurls: true' : ''}${tlsConfig(options.tls)}}\n` +
        authConfig,
    );
    const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await waitUntilServing(child, registry.host, options.tls !== undefined);
      stops.push(() => stopProcess(child));
      break;
    } catch (err) {
      await stopProcess(child);
      if (attempt === 3 || !/address already in use/.test(String(err))) throw err;
    }
  }
  return registry;
}

function tlsConfig(tls: { certificate: string; key: string; clientCas?: string } | undefined): string {
  if (tls === undefined) return '';
  return `, tls: {certificate: ${tls.certificate}, key: ${tls.key}${tls.clientCas ? `, clientcas: [${tls.clientCas}]` : ''}}`;
}

/** A port nobody listened on a moment ago (the registry binds it next). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function bcrypt(password: string): Promise<string> {
  const script = 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 4)))';
  const { stdout } = await run('python3', ['-W', 'ignore', '-c', script, password]);
  return stdout.trim();
}

/** Polls `GET /v2/` until the registry answers (200, or 401 when it wants credentials). */
async function waitUntilServing(child: ChildProcess, host: string, secure: boolean): Promise<void> {
  const errors: Buffer[] = [];
  child.stderr?.on('data', (c: Buffer) => errors.push(c));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`docker-registry exited (${code}): ${Buffer.concat(errors).toString().trim()}`))),
  );
  exited.catch(() => {});
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const status = await Promise.race([secure ? tcpOpen(host) : pingStatus(host), exited]);
    if (status === 200 || status === 401) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not answer on ${host} within 15 s: ${Buffer.concat(errors).toString().trim()}`);
}

/** A TLS registry may want a client certificate before it answers anything: that it listens is enough (200). */
function tcpOpen(host: string): Promise<number | null> {
  return new Promise((resolve) => {
    const [address, port] = host.split(':');
    const socket = net.connect(Number(port), address!, () => {
      socket.destroy();
      resolve(200);
    });
    socket.on('error', () => resolve(null));
  });
}

function pingStatus(host: string): Promise<number | null> {
  return new Promise((resolve) => {
    const req = http.get(`http://${host}/v2/`, (res) => {
      res.resume();
      // Only the registry's answer counts, not another server's that took the port.
      resolve(res.headers['docker-distribution-api-version'] === 'registry/2.0' ? (res.statusCode ?? null) : null);
    });
    req.on('error', () => resolve(null));
  });
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * The token server of distribution's token auth spec: `GET /token?service=&scope=…`
 * with the test user's Basic credentials grants every scope asked for; without them,
 * a token that grants nothing (the registry then refuses). Tokens are ES256 JWTs
 * whose `x5c` header carries the certificate the registry trusts (rootcertbundle).
 */
export interface TokenServerState {
  issued: { scope: string[]; user: string | null }[];
  /** The next this many tokens are issued already expired, while the response still says they last 300 s. */
  expiredNext: number;
}

async function startTokenServer(dir: string) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = path.join(dir, 'token.key');
  const certificate = path.join(dir, 'token.crt');
  await fs.writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await run('openssl', ['req', '-new', '-x509', '-key', keyFile, '-out', certificate, '-days', '2', '-subj', '/CN=strata-test-token']);
  const certDer = new X509Certificate(await fs.readFile(certificate)).raw;
  const tokens: TokenServerState = { issued: [], expiredNext: 0 };
  const expiresIn = 300;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    const user = basicUser(req.headers.authorization);
    if (req.headers.authorization !== undefined && user === null) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
      return;
    }
    const scope = url.searchParams.getAll('scope');
    tokens.issued.push({ scope, user });
    const access = user === null ? [] : scope.flatMap(scopeAccess);
    const lifetime = tokens.expiredNext > 0 ? -600 : expiresIn;
    if (tokens.expiredNext > 0) tokens.expiredNext--;
    const token = jwt(privateKey, certDer, { sub: user ?? '', aud: url.searchParams.get('service') ?? '', access, expiresIn: lifetime });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certificate,
    tokens,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function basicUser(header: string | undefined): string | null {
  if (header === undefined || !header.startsWith('Basic ')) return null;
  const [user, ...rest] = Buffer.from(header.slice(6), 'base64').toString().split(':');
  return user === REGISTRY_USER && rest.join(':') === REGISTRY_PASSWORD ? user : null;
}

/** `repository:name:pull,push` → the claim distribution checks. */
function scopeAccess(scope: string): { type: string; name: string; actions: string[] }[] {
  const match = /^([a-z]+):(.+):([a-z*,]+)$/.exec(scope);
  return match ? [{ type: match[1]!, name: match[2]!, actions: match[3]!.split(',') }] : [];
}

function jwt(key: KeyObject, certDer: Buffer, claims: { sub: string; aud: string; access: unknown[]; expiresIn: number }): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
  const payload = {
    iss: TOKEN_ISSUER,
    sub: claims.sub,
    aud: claims.aud,
    exp: now + claims.expiresIn,
    nbf: now - 10 + Math.min(0, claims.expiresIn),
    iat: now,
    jti: randomUUID(),
    access: claims.access,
  };
  const body = `${b64url(Buffer.from(JSON.stringify(header)))}.${b64url(Buffer.from(JSON.stringify(payload)))}`;
  // JWS wants the raw r||s signature, not DER.
  const signature = sign('sha256', Buffer.from(body), { key, dsaEncoding: 'ieee-p1363' });
  return `${body}.${b64url(signature)}`;
}

function b64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** Copies an OCI archive (its only image) into `registry` as `repository:tag`, with skopeo, as another client would. */
export async function pushWithSkopeo(registry: TestRegistry, archive: string, repositoryTag: string): Promise<void> {
  const creds = registry.auth === 'open' ? [] : ['--dest-creds', `${registry.username}:${registry.password}`];
  await run('skopeo', [
    'copy',
    '-q',
    '--dest-tls-verify=false',
    ...creds,
    `oci-archive:${archive}`,
    `docker://${registry.host}/${repositoryTag}`,
  ]);
}

/** `skopeo inspect --raw`: the manifest bytes the registry serves for `repositoryTag`. */
export async function manifestWithSkopeo(registry: TestRegistry, repositoryTag: string): Promise<Buffer> {
  const creds = registry.auth === 'open' ? [] : ['--creds', `${registry.username}:${registry.password}`];
  const { stdout } = await run(
    'skopeo',
    ['inspect', '--raw', '--tls-verify=false', ...creds, `docker://${registry.host}/${repositoryTag}`],
    {
      encoding: 'buffer',
    },
  );
  return stdout;
}

/** `skopeo copy docker://… oci:DIR:tag`: every blob fetched and verified by another client. */
export async function copyOutWithSkopeo(registry: TestRegistry, repositoryTag: string, dir: string): Promise<void> {
  const creds = registry.auth === 'open' ? [] : ['--src-creds', `${registry.username}:${registry.password}`];
  await run('skopeo', [
    'copy',
    '-q',
    '--preserve-digests',
    '--src-tls-verify=false',
    ...creds,
    `docker://${registry.host}/${repositoryTag}`,
    `oci:${dir}:t`,
  ]);
}
