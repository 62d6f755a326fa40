import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import { DEFAULT_LOW_SPEED, watchLowSpeed, type LowSpeedLimit } from './low-speed.js';
import type { RegistryTls } from './tls-trust.js';

/**
 * One HTTP exchange with a registry over node:http/node:https. Not fetch: fetch
 * un-gzips a body served with `Content-Encoding: gzip`, and a blob's digest is over
 * the bytes as stored. Redirects of GET and HEAD are followed here, and the
 * Authorization header goes only to the host it was made for (blob storage behind a
 * redirect, S3 for one, refuses a request carrying two kinds of credentials).
 */
export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  /** A body is given as a function, so a retried request can open it again. */
  body?: () => Readable | Buffer;
  /** Whose certificates HTTPS is checked against (src/registry/tls-trust.ts); Node's defaults without it. */
  tls?: RegistryTls;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Where the answer came from, after redirects. */
  url: URL;
  /** Unread; the caller reads or discards it. Never decoded. */
  body: http.IncomingMessage;
  /** The limits it was sent under (readSmallBody's deadline is one). */
  limits: HttpLimits;
}

export interface HttpLimits {
  /** No byte in either direction for this long ends the request (a dead server). */
  idleTimeoutMs: number;
  /** A response body slower than this ends the request (a slow-drip server the idle timeout never ends). */
  lowSpeed: LowSpeedLimit;
  /** A body read whole (a manifest, a token, an error) must have arrived within this, however it trickles. */
  smallBodyTimeoutMs: number;
  maxRedirects: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  idleTimeoutMs: 30_000,
  lowSpeed: DEFAULT_LOW_SPEED,
  smallBodyTimeoutMs: 60_000,
  maxRedirects: 10,
};

const USER_AGENT = 'strata';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function sendRequest(request: HttpRequest, limits: HttpLimits = DEFAULT_HTTP_LIMITS): Promise<HttpResponse> {
  let url = request.url;
  let headers = { ...request.headers };
  for (let hops = 0; ; hops++) {
    const response = await exchange({ ...request, url, headers }, limits);
    const location = response.headers.location;
    const follow = (request.method === 'GET' || request.method === 'HEAD') && REDIRECTS.has(response.status) && location !== undefined;
    if (!follow) return response;
    response.body.resume();
    if (hops >= limits.maxRedirects) {
      throw new StrataError('EREGISTRY', `${request.url.host}: more than ${limits.maxRedirects} redirects for ${request.url.pathname}`);
    }
    const next = new URL(location, url);
    if (next.protocol !== 'https:' && next.protocol !== 'http:') {
      throw new StrataError('EREGISTRY', `${request.url.host}: redirect to unsupported URL ${next.protocol}//${next.host}`);
    }
    // Never from HTTPS down to plain HTTP: the registry was reached securely and must stay so.
    if (url.protocol === 'https:' && next.protocol === 'http:') {
      throw new StrataError('EREGISTRY', `${request.url.host}: refusing redirect from https to http://${next.host}`);
    }
    if (next.host !== url.host) headers = withoutAuthorization(headers);
    url = next;
  }
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
}

function exchange(request: HttpRequest & { headers: Record<string, string> }, limits: HttpLimits): Promise<HttpResponse> {
  const { url } = request;
  const secure = url.protocol === 'https:';
  const transport = secure ? https : http;
  return new Promise((resolve, reject) => {
    const agent = secure ? request.tls?.agentFor(url.host) : undefined;
    const req = transport.request(url, {
      method: request.method,
      headers: { 'user-agent': USER_AGENT, ...request.headers },
      ...(agent ? { agent } : {}),
    });
    let response: http.IncomingMessage | undefined;
    const timedOut = () => {
      // ETIMEDOUT as the cause: a silent server is worth another try, like a reset one.
      const err = new StrataError('EREGISTRY', `${url.host}: no data for ${limits.idleTimeoutMs / 1000} s, giving up on ${url.pathname}`, {
        cause: Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }),
      });
      response?.destroy(err);
      req.destroy(err);
    };
    // The socket's idle timer runs for the whole exchange, body included: a server that
    // stops sending mid-blob is given up on as one that never answered.
    req.setTimeout(limits.idleTimeoutMs, timedOut);
    req.on('error', (err) => reject(networkError(url, err, request.tls)));
    req.on('response', (res) => {
      response = res;
      res.on('error', () => {});
      const socket = res.socket;
      watchLowSpeed(
        res,
        () => socket?.bytesRead ?? 0,
        limits.lowSpeed,
        (rate) => res.destroy(tooSlow(url, rate, limits.lowSpeed)),
      );
      resolve({ status: res.statusCode ?? 0, headers: res.headers, url, body: res, limits });
    });
    const body = request.body?.();
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

/**
 * Not a transient fault (no ETIMEDOUT cause): a blob download retries for as long as
 * bytes keep coming, and a drip never stops coming. What arrived stays resumable.
 */
function tooSlow(url: URL, rate: number, limit: LowSpeedLimit): StrataError {
  const seconds = limit.windowMs / 1000;
  return new StrataError(
    'EREGISTRY',
    `${url.host}: ${Math.floor(rate)} bytes/s over ${seconds} s, under the ${limit.bytesPerSecond} bytes/s minimum, giving up on ${url.pathname}`,
    { found: Math.floor(rate), expected: limit.bytesPerSecond },
  );
}

/**
 * A connection error as one line naming the registry: `127.0.0.1:5000: connect ECONNREFUSED 127.0.0.1:5000`;
 * a certificate no trusted CA signed also says where its CA would be trusted from.
 */
export function networkError(url: URL, err: Error, tls?: RegistryTls): Error {
  if (err instanceof StrataError) return err;
  const hint = tls?.untrustedHint(url.host, (err as NodeJS.ErrnoException).code) ?? '';
  return new StrataError('EREGISTRY', `${url.host}: ${err.message.split('\n')[0]}${hint}`, { cause: err });
}

/** Reads a whole body that must stay small (a manifest, a token, an error), refusing more than `maxBytes`. */
export async function readSmallBody(response: HttpResponse, maxBytes: number, what: string): Promise<Buffer> {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.body.destroy();
    throw new StrataError('ELIMIT', `${response.url.host}: ${what} is ${declared} bytes, more than the ${maxBytes} allowed`, {
      expected: maxBytes,
      found: declared,
    });
  }
  const chunks: Buffer[] = [];
  let length = 0;
  const { smallBodyTimeoutMs } = response.limits;
  const deadline = setTimeout(() => {
    response.body.destroy(
      new StrataError(
        'EREGISTRY',
        `${response.url.host}: ${what} not complete after ${smallBodyTimeoutMs / 1000} s, giving up on ${response.url.pathname}`,
      ),
    );
  }, smallBodyTimeoutMs);
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > maxBytes) {
        response.body.destroy();
        throw new StrataError('ELIMIT', `${response.url.host}: ${what} is more than the ${maxBytes} bytes allowed`, {
          expected: maxBytes,
        });
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw err instanceof StrataError ? err : networkError(response.url, err as Error);
  } finally {
    clearTimeout(deadline);
  }
  return Buffer.concat(chunks);
}
