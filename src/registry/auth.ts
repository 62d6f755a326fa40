import { StrataError } from '../errors.js';
import type { Challenge } from './challenge.js';
import { isLoopback, hostOf } from './endpoint.js';
import { readSmallBody, sendRequest, type HttpLimits } from './http.js';
import type { RegistryTls } from './tls-trust.js';

/** What a user logged in with: a password (or personal token) for Basic, and for the token server's Basic. */
export interface Credentials {
  username: string;
  password: string;
}

/** `repository:<path>:pull` or `…:pull,push`: what a Bearer token is asked for. */
export function repositoryScope(path: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${path}:${actions}`;
}

const MAX_TOKEN_RESPONSE = 1024 * 1024;
/** distribution's token spec: a token without `expires_in` lasts 60 s. */
const DEFAULT_TOKEN_SECONDS = 60;

/**
 * The Authorization a registry wants, learned from its challenges: nothing until it
 * sends one, then Basic with the credentials, or Bearer tokens fetched from the realm
 * it names — one per scope, reused until shortly before they expire. A 401 on a
 * request that carried a token drops that token, so the next try fetches a new one.
 */
export class Authorizer {
  private challenge: Challenge | null = null;
  private readonly tokens = new Map<string, { token: string; expires: number }>();

  constructor(
    private readonly registry: { name: string; insecure: boolean },
    private readonly credentials: Credentials | undefined,
    private readonly limits: HttpLimits,
    private readonly tls?: RegistryTls,
  ) {}

  /** The header for a request in `scope` (space-separated scopes), or undefined while the registry has asked for none. */
  async header(scope: string): Promise<string | undefined> {
    const challenge = this.challenge;
    if (challenge === null) return undefined;
    if (challenge.scheme === 'basic') return this.credentials ? basic(this.credentials) : undefined;
    const cached = this.tokens.get(scope);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    const fetched = await this.fetchToken(challenge, scope);
    this.tokens.set(scope, fetched);
    return `Bearer ${fetched.token}`;
  }

  /**
   * A 401 came back. Returns true when a retry may succeed: a scheme or token we had
   * not used yet. False when the same credentials were already refused.
   */
  challenged(challenge: Challenge | null, scope: string, sent: string | undefined): boolean {
    if (challenge === null || (challenge.scheme !== 'basic' && challenge.scheme !== 'bearer')) {
      throw new StrataError(
        'EUNAUTHORIZED',
        `${this.registry.name}: unsupported authentication${challenge ? ` scheme ${challenge.scheme}` : ''}`,
      );
    }
    const fresh = this.challenge?.scheme !== challenge.scheme || this.challenge.params.realm !== challenge.params.realm;
    this.challenge = challenge;
    // Requests running side by side may each meet the first challenge: retry any that went without the credentials.
    if (challenge.scheme === 'basic') return this.credentials !== undefined && sent !== basic(this.credentials);
    const cached = this.tokens.get(scope);
    // The token we sent expired or was revoked: fetch a new one once.
    if (cached && sent === `Bearer ${cached.token}`) {
      this.tokens.delete(scope);
      return true;
    }
    return sent === undefined || fresh;
  }

  private async fetchToken(challenge: Challenge, scope: string): Promise<{ token: string; expires: number }> {
    const realm = this.realmUrl(challenge.params.realm);
    if (challenge.params.service !== undefined) realm.searchParams.set('service', challenge.params.service);
    for (const one of scope.split(' ')) if (one !== '') realm.searchParams.append('scope', one);
    const headers: Record<string, string> = {};
    if (this.credentials) headers.authorization = basic(this.credentials);
    const response = await sendRequest({ method: 'GET', url: realm, headers, tls: this.tls }, this.limits);
    const body = await readSmallBody(response, MAX_TOKEN_RESPONSE, 'token response');
    if (response.status === 401 || response.status === 403) {
      throw new StrataError('EUNAUTHORIZED', `${this.registry.name}: unauthorized: incorrect username or password`);
    }
    if (response.status !== 200) {
      throw new StrataError('EREGISTRY', `${this.registry.name}: token server ${realm.host} answered ${response.status}`);
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body.toString()) as typeof parsed;
    } catch {
      throw new StrataError('EREGISTRY', `${this.registry.name}: token server ${realm.host} sent no JSON`);
    }
    const token = typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new StrataError('EREGISTRY', `${this.registry.name}: token server ${realm.host} sent no token`);
    }
    const seconds = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    // Renew a little early, so a token does not expire between check and use.
    return { token, expires: Date.now() + Math.max(1, seconds - 5) * 1000 };
  }

  /**
   * The realm must be HTTPS: credentials go there. Plain HTTP only when the registry
   * itself is plain (loopback or listed insecure) and the realm is on a loopback host
   * or the registry's own.
   */
  private realmUrl(realm: string | undefined): URL {
    let url: URL;
    try {
      url = new URL(realm ?? '');
    } catch {
      throw new StrataError('EREGISTRY', `${this.registry.name}: Bearer challenge without a valid realm`);
    }
    const plainAllowed = this.registry.insecure && (isLoopback(hostOf(url.host)) || url.host === this.registry.name);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && plainAllowed)) {
      throw new StrataError('EREGISTRY', `${this.registry.name}: refusing token realm ${url.protocol}//${url.host} (not https)`);
    }
    return url;
  }
}

function basic(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}
