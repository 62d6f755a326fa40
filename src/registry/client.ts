import type { Readable } from 'node:stream';
import { StrataError, isStrataError } from '../errors.js';
import { digestOf, isDigest } from '../content/digest.js';
import { ARCHIVE_LIMITS } from '../archive/limits.js';
import { Authorizer, repositoryScope, type Credentials } from './auth.js';
import { uploadBlob, type UploadOptions, type UploadSource } from './blob-upload.js';
import { parseChallenge } from './challenge.js';
import { registryEndpoint, type EndpointOptions, type RegistryEndpoint } from './endpoint.js';
import { DEFAULT_HTTP_LIMITS, readSmallBody, sendRequest, type HttpLimits, type HttpRequest, type HttpResponse } from './http.js';
import { MANIFEST_ACCEPT } from './media-types.js';
import { responseError } from './response-error.js';
import { DEFAULT_RETRY, isTransient, retryableStatus, retryDelay, sleep, type RetryPolicy } from './retry.js';
import { ROOT_CERTS_DIR } from './certs-dir.js';
import { chooseScheme } from './scheme.js';
import { RegistryTls, type TrustSources } from './tls-trust.js';

export interface RegistryClientOptions {
  credentials?: Credentials;
  /** What is left out is DEFAULT_HTTP_LIMITS's. */
  limits?: Partial<HttpLimits>;
  retry?: RetryPolicy;
  /** Aborting ends a wait between retries at once. */
  signal?: AbortSignal;
  /** The certificates its HTTPS is checked against; without it, Node's defaults (src/registry/tls-trust.ts). */
  tls?: RegistryTls;
}

export interface FetchedManifest {
  bytes: Buffer;
  /** The manifest's own `mediaType`, else the Content-Type it was served with. */
  mediaType: string;
  digest: string;
}

export interface BlobResponse {
  /** The blob's bytes from `offset` on, as stored (never decoded). */
  body: Readable;
  /** Where the body starts: `offset` when the registry honoured Range, 0 when it sent the whole blob. */
  start: number;
}

export interface OpenRegistryOptions extends RegistryClientOptions, EndpointOptions {
  /** Where the system's and the registry's own certificates are; Docker's defaults for root without it. */
  trust?: TrustSources;
}

/**
 * A client for the registry a reference names: HTTPS checked against the system's CAs
 * and the registry's certs.d; for an insecure registry, whichever of HTTPS (unchecked)
 * and plain HTTP it answers, in that order, as Docker tries them.
 */
export async function openRegistry(name: string, options: OpenRegistryOptions = {}): Promise<RegistryClient> {
  const endpoint = registryEndpoint(name, options);
  const tls = new RegistryTls(new URL(endpoint.origin).host, endpoint.insecure, options.trust ?? { certsDir: ROOT_CERTS_DIR });
  const limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  return new RegistryClient(await chooseScheme(endpoint, tls, limits, options.signal), { ...options, tls });
}

/**
 * The distribution API calls pull needs, for one registry: each request carries the
 * Authorization its challenges asked for (retried once after a 401 with a fresh
 * token or the credentials), and every answer is checked before it is used.
 */
export class RegistryClient {
  private readonly auth: Authorizer;
  private readonly limits: HttpLimits;
  readonly retry: RetryPolicy;
  readonly signal: AbortSignal | undefined;
  private readonly tls: RegistryTls | undefined;

  constructor(
    readonly endpoint: RegistryEndpoint,
    options: RegistryClientOptions = {},
  ) {
    this.limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.signal = options.signal;
    this.tls = options.tls;
    this.auth = new Authorizer(endpoint, options.credentials, this.limits, options.tls);
  }

  /** The manifest or index `reference` (a tag or digest) names, bounded, its digest checked. */
  async manifest(repository: string, reference: string): Promise<FetchedManifest> {
    const response = await this.send(repository, 'pull', {
      method: 'GET',
      url: this.url(`/v2/${repository}/manifests/${reference}`),
      headers: { accept: MANIFEST_ACCEPT },
    });
    const what = `${this.endpoint.name}/${repository}:${reference}`;
    if (response.status !== 200)
      throw await responseError(response, `manifest for ${displayRef(this.endpoint.name, repository, reference)}`);
    const bytes = await readSmallBody(response, ARCHIVE_LIMITS.maxJsonBytes, `manifest ${what}`);
    const digest = digestOf(bytes);
    if (isDigest(reference) && reference !== digest) {
      throw new StrataError('EINTEGRITY', `${what}: manifest digest is ${digest}, not the ${reference} asked for`, {
        expected: reference,
        found: digest,
      });
    }
    // Checked when sent and sha256 (the only algorithm strata stores).
    const claimed = response.headers['docker-content-digest'];
    if (typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new StrataError('EINTEGRITY', `${what}: Docker-Content-Digest says ${claimed}, but the manifest is ${digest}`, {
        expected: claimed,
        found: digest,
      });
    }
    return { bytes, mediaType: mediaTypeOf(bytes, response.headers['content-type']), digest };
  }

  /** A blob from byte `offset` on (Range), the stream unread; a registry that ignores Range sends it all (start 0). */
  async blob(repository: string, digest: string, offset = 0): Promise<BlobResponse> {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const response = await this.send(repository, 'pull', { method: 'GET', url: this.url(`/v2/${repository}/blobs/${digest}`), headers });
    if (response.status === 200) return { body: response.body, start: 0 };
    if (response.status === 206 && offset > 0) {
      const start = Number(/^bytes (\d+)-/.exec(String(response.headers['content-range']))?.[1]);
      if (start !== offset) {
        response.body.destroy();
        throw new StrataError(
          'EREGISTRY',
          `${this.endpoint.name}/${repository}@${digest}: asked for bytes from ${offset}, got ${response.headers['content-range']}`,
        );
      }
      return { body: response.body, start };
    }
    throw await responseError(response, `${this.endpoint.name}/${repository}@${digest}`);
  }

  /**
   * `login`'s check: `GET /v2/` with the credentials, through whatever challenge the
   * registry sends (a Bearer token is asked for with no scope, as Docker does).
   */
  async checkLogin(): Promise<void> {
    const response = await this.sendAuthorized('', 'pull', { method: 'GET', url: this.url('/v2/') });
    response.body.resume();
    if (response.status === 401 || response.status === 403) {
      throw new StrataError('EUNAUTHORIZED', `${this.endpoint.name}: unauthorized: incorrect username or password`);
    }
    if (response.status !== 200)
      throw new StrataError('EREGISTRY', `${this.endpoint.name}: login answered ${response.status}`, { found: response.status });
  }

  /** Whether the repository has the blob (HEAD): push skips those it has. */
  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const response = await this.send(repository, 'pull,push', { method: 'HEAD', url: this.url(`/v2/${repository}/blobs/${digest}`) });
    response.body.resume();
    if (response.status === 200) return true;
    if (response.status === 404) return false;
    throw await responseError(response, `${this.endpoint.name}/${repository}@${digest}`);
  }

  /**
   * Asks the registry to link a blob it already holds in `from` (another repository):
   * true when it did (201). Anything else — 202 (an upload session instead), an error —
   * is false, and the caller uploads; some registries refuse mounts (ggcr#1404).
   */
  async mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    const url = this.url(`/v2/${repository}/blobs/uploads/`);
    url.searchParams.set('mount', digest);
    url.searchParams.set('from', from);
    try {
      // A token must also grant pull on the source repository, or the registry asks again (401).
      const response = await this.send(repository, 'pull,push', { method: 'POST', url }, [repositoryScope(from, 'pull')]);
      response.body.resume();
      return response.status === 201;
    } catch (err) {
      if (isStrataError(err, 'EINTERRUPTED')) throw err;
      return false;
    }
  }

  /** Uploads a blob the repository lacks: in one PUT when small, else in ordered chunks that resume (blob-upload.ts). */
  uploadBlob(repository: string, blob: UploadSource, options: UploadOptions): Promise<void> {
    return uploadBlob(
      {
        send: (request) => this.send(repository, 'pull,push', request),
        uploadsUrl: this.url(`/v2/${repository}/blobs/uploads/`),
        what: `${this.endpoint.name}/${repository}@${blob.digest}`,
        retry: this.retry,
        signal: this.signal,
      },
      blob,
      options,
    );
  }

  /** PUTs a manifest's exact bytes under `reference`; the registry must name the same digest. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const what = displayRef(this.endpoint.name, repository, reference);
    const response = await this.send(repository, 'pull,push', {
      method: 'PUT',
      url: this.url(`/v2/${repository}/manifests/${reference}`),
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: () => bytes,
    });
    if (response.status !== 201) throw await responseError(response, `manifest ${what}`);
    response.body.resume();
    const digest = digestOf(bytes);
    const claimed = response.headers['docker-content-digest'];
    if (typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new StrataError('EINTEGRITY', `manifest ${what}: the registry stored ${claimed}, not ${digest}`, {
        expected: digest,
        found: claimed,
      });
    }
    return digest;
  }

  private url(path: string): URL {
    return new URL(path, this.endpoint.origin);
  }

  /**
   * Sends with the Authorization for `repository`'s scope: one more try after a 401
   * that a new token or the credentials may answer, and retries with backoff after
   * transient failures (requests here carry no body, so each try sends the same).
   */
  private async send(
    repository: string,
    actions: 'pull' | 'pull,push',
    request: HttpRequest,
    moreScopes: string[] = [],
  ): Promise<HttpResponse> {
    for (let attempt = 1; ; attempt++) {
      let response: HttpResponse;
      try {
        response = await this.sendAuthorized(repository, actions, request, moreScopes);
      } catch (err) {
        if (!isTransient(err) || !idempotent(request) || attempt >= this.retry.attempts) throw err;
        await sleep(retryDelay(attempt, this.retry), this.signal);
        continue;
      }
      if (!retryableStatus(response.status) || !idempotent(request) || attempt >= this.retry.attempts) return response;
      response.body.resume();
      await sleep(retryDelay(attempt, this.retry, response.headers['retry-after']), this.signal);
    }
  }

  private async sendAuthorized(
    repository: string,
    actions: 'pull' | 'pull,push',
    request: HttpRequest,
    moreScopes: string[] = [],
  ): Promise<HttpResponse> {
    // Scopes are space-separated, as in a challenge's `scope`; the token request sends each as its own parameter.
    const scope = [...(repository === '' ? [] : [repositoryScope(repository, actions)]), ...moreScopes].join(' ');
    for (let attempt = 0; ; attempt++) {
      // Credentials go only to the registry itself, never to an upload Location on another host.
      const authorization = request.url.host === new URL(this.endpoint.origin).host ? await this.auth.header(scope) : undefined;
      const headers = { ...request.headers, ...(authorization ? { authorization } : {}) };
      const response = await sendRequest({ ...request, headers, tls: this.tls }, this.limits);
      // Twice at most: the first 401 brings the challenge, a second one may mean the token we had expired.
      if (response.status !== 401 || attempt > 1) return response;
      const challenge = parseChallenge(response.headers['www-authenticate']);
      if (!this.auth.challenged(challenge, scope, authorization)) return response;
      response.body.resume();
    }
  }
}

/** Only these are sent again after a failure: an upload's PUT belongs to a session a retry must open anew. */
function idempotent(request: HttpRequest): boolean {
  return request.method === 'GET' || request.method === 'HEAD';
}

function displayRef(registry: string, repository: string, reference: string): string {
  return `${registry}/${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
}

function mediaTypeOf(bytes: Buffer, contentType: string | undefined): string {
  try {
    const declared = (JSON.parse(bytes.toString()) as { mediaType?: unknown }).mediaType;
    if (typeof declared === 'string' && declared !== '') return declared;
  } catch {
    // Not JSON: the caller reports it as a manifest it cannot read.
  }
  return (contentType ?? '').split(';')[0]!.trim();
}
