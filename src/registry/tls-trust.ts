import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { StrataError } from '../errors.js';

/**
 * Which certificates a registry's HTTPS is checked against, as Docker checks them: the
 * system's CA bundle (what `update-ca-certificates` writes), not Node's own copy of
 * Mozilla's list, so a private CA the machine trusts is trusted here too; and the
 * registry's own directory in Docker's `certs.d`, where every `*.crt` is one more CA and
 * every `NAME.cert` with its `NAME.key` a client certificate to present.
 */
export interface TrustSources {
  /** $SSL_CERT_FILE, as OpenSSL and Go read it: the system bundle to use instead of the distribution's. */
  caFile?: string;
  /** $NODE_EXTRA_CA_CERTS: Node adds it to its own list; strata adds it to the system one. */
  extraCaFile?: string;
  /** Docker's `certs.d`: `/etc/docker/certs.d` for root, `~/.config/docker/certs.d` otherwise (rootless dockerd's). */
  certsDir: string;
}

/** Where distributions keep their bundle; the first that exists is the system's (Go's crypto/x509 reads the same list). */
const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', // CentOS, RHEL 7
  '/etc/ssl/cert.pem', // Alpine, BSDs, macOS
];

/** OpenSSL's verdicts, as Node reports them, for a chain that ends in no CA strata trusts. */
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
]);

/**
 * The HTTPS agents of one registry client: the registry's host with its certs.d
 * additions, other hosts (blob storage behind a redirect) with the system bundle. An
 * insecure registry (loopback or listed) is reached over HTTPS without checking its
 * certificate, as Docker does before it falls back to HTTP; a redirect away from it is
 * still checked. Built on first use: a plain-HTTP or unchecked registry never reads a bundle.
 */
export class RegistryTls {
  private readonly agents = new Map<string, https.Agent>();
  private systemCas: string[] | undefined;

  constructor(
    /** `host:port` as the registry's URLs carry it. */
    private readonly registryHost: string,
    private readonly insecure: boolean,
    private readonly sources: TrustSources,
  ) {}

  /** For Node's codes of a certificate no trusted CA signed: where the user can make its CA trusted. */
  untrustedHint(host: string, code: unknown): string | null {
    if (typeof code !== 'string' || !UNTRUSTED_CODES.has(code)) return null;
    const own = host === this.registryHost ? ` or in ${path.join(this.sources.certsDir, host, 'ca.crt')}` : '';
    return ` (put its CA in the system CA bundle${own})`;
  }

  agentFor(host: string): https.Agent {
    const key = host === this.registryHost ? 'registry' : 'other';
    let agent = this.agents.get(key);
    if (agent === undefined) {
      agent = key === 'registry' ? this.registryAgent() : this.agent({}, true);
      this.agents.set(key, agent);
    }
    return agent;
  }

  private registryAgent(): https.Agent {
    const dir = path.join(this.sources.certsDir, this.registryHost);
    const own = registryDirectory(dir);
    return this.agent({ ca: own.cas, ...(own.client ?? {}) }, !this.insecure, dir);
  }

  private agent(extra: { ca?: string[]; cert?: Buffer; key?: Buffer }, verify: boolean, dir?: string): https.Agent {
    // An unchecked registry's agent needs no CA list: reading and parsing the bundle would be for nothing.
    const ca = verify ? [...(this.systemCas ??= systemCas(this.sources)), ...(extra.ca ?? [])] : undefined;
    let secureContext: tls.SecureContext;
    try {
      secureContext = tls.createSecureContext({ ca, cert: extra.cert, key: extra.key });
    } catch (err) {
      // OpenSSL names no file: the certs.d directory is where the user put something it cannot read.
      const where = dir ?? this.sources.caFile ?? 'the system CA bundle';
      throw new StrataError('EUSAGE', `${where}: not a usable certificate or key: ${(err as Error).message}`, { path: where });
    }
    // Keep-alive as Node's global agent: a pull's many blob requests reuse connections.
    return new https.Agent({ keepAlive: true, secureContext, rejectUnauthorized: verify });
  }
}

function systemCas(sources: TrustSources): string[] {
  const bundle = sources.caFile ?? SYSTEM_BUNDLES.find((file) => fs.existsSync(file));
  // No bundle anywhere (a minimal image, another OS): Node's own list is the best there is.
  const cas = bundle === undefined ? [...tls.rootCertificates] : [readPem(bundle, 'CA bundle')];
  // Node itself only warns when this file cannot be read, and goes on without it: so does strata.
  if (sources.extraCaFile) {
    try {
      cas.push(fs.readFileSync(sources.extraCaFile, 'utf8'));
    } catch {}
  }
  return cas;
}

/**
 * `certs.d/HOST:PORT/`: `*.crt` files are CAs, `NAME.cert` + `NAME.key` a client
 * certificate (a `.cert` without its `.key`, or the reverse, is refused as Docker refuses
 * it). Docker presents every pair; Node takes one, so the first by name is used.
 */
function registryDirectory(dir: string): { cas: string[]; client?: { cert: Buffer; key: Buffer } } {
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { cas: [] };
    throw new StrataError('EUSAGE', `${dir}: cannot read the registry's certificates: ${(err as Error).message}`, { path: dir });
  }
  const cas = names.filter((n) => n.endsWith('.crt')).map((n) => readPem(path.join(dir, n), 'CA certificate'));
  const certs = names.filter((n) => n.endsWith('.cert'));
  for (const key of names.filter((n) => n.endsWith('.key'))) {
    if (!certs.includes(`${key.slice(0, -'.key'.length)}.cert`))
      throw new StrataError('EUSAGE', `${path.join(dir, key)}: missing client certificate ${key.slice(0, -'.key'.length)}.cert`, {
        path: path.join(dir, key),
      });
  }
  if (certs.length === 0) return { cas };
  const cert = certs[0]!;
  const keyFile = path.join(dir, `${cert.slice(0, -'.cert'.length)}.key`);
  if (!fs.existsSync(keyFile))
    throw new StrataError('EUSAGE', `${path.join(dir, cert)}: missing key ${path.basename(keyFile)}`, { path: path.join(dir, cert) });
  return { cas, client: { cert: fs.readFileSync(path.join(dir, cert)), key: fs.readFileSync(keyFile) } };
}

function readPem(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new StrataError('EUSAGE', `${file}: cannot read the ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      path: file,
    });
  }
}
