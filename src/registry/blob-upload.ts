import type { Readable } from 'node:stream';
import { StrataError, isStrataError } from '../errors.js';
import type { HttpRequest, HttpResponse } from './http.js';
import { responseError } from './response-error.js';
import { isTransient, retryableStatus, retryDelay, sleep, type RetryPolicy } from './retry.js';

/** The blob to upload; `open` reads bytes [start, end) from the store, afresh for every request. */
export interface UploadSource {
  digest: string;
  size: number;
  open: (start: number, end: number) => Readable | Buffer;
}

export interface UploadOptions {
  /** Blobs up to this size go in one PUT; larger ones in PATCHes of this size. */
  chunkSize: number;
  /** Bytes the registry has acknowledged (or, within a request, sent so far). */
  onProgress?: (done: number) => void;
}

/** What the upload needs of the client: its authorised, retried `send`, the repository's upload URL. */
export interface UploadChannel {
  send: (request: HttpRequest) => Promise<HttpResponse>;
  /** `…/v2/<repository>/blobs/uploads/`, where a POST opens a session. */
  uploadsUrl: URL;
  /** Names the blob in errors: `registry/repo@sha256:…`. */
  what: string;
  retry: RetryPolicy;
  signal: AbortSignal | undefined;
}

/** Where an open upload session stands: its newest Location and the bytes the registry holds. */
interface Session {
  location: URL;
  offset: number;
  /** The registry's `OCI-Chunk-Min-Length`, 0 when it named none. */
  minChunk: number;
}

/**
 * Uploads one blob. A POST opens a session (never with the body: distribution answers
 * a single POST with 202 and drops what it carried). A small blob then goes in one PUT
 * with the digest; a large one in PATCHes with Content-Range, strictly in order, each
 * to the Location the previous answer gave (it carries the registry's upload state),
 * and a closing PUT with the digest. After a failure (a reset, a 5xx, a stale Location)
 * the session's status is asked for (GET on its Location: how many bytes it holds) and
 * the upload goes on from there; a registry that forgot the session gets a new one.
 */
export async function uploadBlob(channel: UploadChannel, blob: UploadSource, options: UploadOptions): Promise<void> {
  const chunked = blob.size > options.chunkSize;
  let session: Session | null = null;
  for (let failures = 0; ; ) {
    try {
      if (session === null) session = await openSession(channel);
      if (!chunked) {
        await finish(channel, session, blob, blob.size, options);
        return;
      }
      while (session.offset < blob.size) {
        if (channel.signal?.aborted) throw new StrataError('EINTERRUPTED', `upload of ${channel.what} interrupted`);
        const before: number = session.offset;
        session = await sendChunk(channel, session, blob, Math.max(options.chunkSize, session.minChunk), options);
        if (session.offset > before) failures = 0;
      }
      await finish(channel, session, blob, 0, options);
      return;
    } catch (err) {
      if (!worthRetrying(err) || ++failures >= channel.retry.attempts) throw err;
      await sleep(retryDelay(failures, channel.retry), channel.signal);
      // A monolithic PUT cannot be continued; a chunked upload goes on from what the registry kept.
      session = chunked && session !== null ? await sessionStatus(channel, session) : null;
    }
  }
}

async function openSession(channel: UploadChannel): Promise<Session> {
  const response = await channel.send({ method: 'POST', url: channel.uploadsUrl, headers: { 'content-length': '0' } });
  if (response.status !== 202) throw await responseError(response, `upload of ${channel.what}`);
  response.body.resume();
  const minChunk = Number(response.headers['oci-chunk-min-length']);
  return { location: nextLocation(channel, response), offset: 0, minChunk: Number.isSafeInteger(minChunk) && minChunk > 0 ? minChunk : 0 };
}

/** One PATCH of the bytes after what the registry holds; the session it leaves (new Location, new offset). */
async function sendChunk(channel: UploadChannel, session: Session, blob: UploadSource, chunkSize: number, options: UploadOptions) {
  const start = session.offset;
  const end = Math.min(blob.size, start + chunkSize);
  const response = await channel.send({
    method: 'PATCH',
    url: session.location,
    headers: {
      'content-type': 'application/octet-stream',
      'content-range': `${start}-${end - 1}`,
      'content-length': String(end - start),
    },
    body: () => counted(blob.open(start, end), start, options.onProgress),
  });
  if (response.status !== 202) throw await responseError(response, `upload of ${channel.what}`);
  response.body.resume();
  const held = heldBytes(response.headers.range);
  if (held === undefined || held < start || held > end) {
    throw new StrataError(
      'EREGISTRY',
      `upload of ${channel.what}: after bytes ${start}-${end - 1} the registry holds ${response.headers.range ?? 'no Range'}`,
    );
  }
  options.onProgress?.(held);
  return { ...session, location: nextLocation(channel, response), offset: held };
}

/** The closing PUT with the digest: the whole blob (`length` = its size), or nothing after PATCHes (0). */
async function finish(channel: UploadChannel, session: Session, blob: UploadSource, length: number, options: UploadOptions) {
  const url = new URL(session.location);
  url.searchParams.set('digest', blob.digest);
  const response = await channel.send({
    method: 'PUT',
    url,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
    body: () => (length === 0 ? Buffer.alloc(0) : counted(blob.open(0, length), 0, options.onProgress)),
  });
  if (response.status !== 201) throw await responseError(response, `upload of ${channel.what}`);
  response.body.resume();
}

/** GET on the session's Location: 204 with the Range it holds, or null when the registry forgot it (or cannot say). */
async function sessionStatus(channel: UploadChannel, session: Session): Promise<Session | null> {
  try {
    const response = await channel.send({ method: 'GET', url: session.location });
    response.body.resume();
    const held = heldBytes(response.headers.range);
    if (response.status !== 204 || held === undefined) return null;
    return { ...session, location: nextLocation(channel, response, session.location), offset: held };
  } catch (err) {
    if (isStrataError(err, 'EINTERRUPTED')) throw err;
    return null;
  }
}

/**
 * Bytes the registry holds from a `Range: 0-N` header: N + 1. distribution answers
 * `0-0` for an empty session too; that is read as 0, since a resent byte is caught by
 * the digest check at the end, and a missing one would not be.
 */
function heldBytes(range: string | string[] | undefined): number | undefined {
  const match = /^(?:bytes=)?0-(\d+)$/.exec(String(range ?? '').trim());
  if (match === null) return undefined;
  const last = Number(match[1]);
  return last === 0 ? 0 : last + 1;
}

/** The Location an answer names, resolved against the request (it may be relative). */
function nextLocation(channel: UploadChannel, response: HttpResponse, fallback?: URL): URL {
  const location = response.headers.location;
  if (location === undefined) {
    if (fallback) return fallback;
    throw new StrataError('EREGISTRY', `upload of ${channel.what}: the registry sent no Location`);
  }
  return new URL(location, response.url);
}

function worthRetrying(err: unknown): boolean {
  return (
    isTransient(err) ||
    isStrataError(err, 'ENOTFOUND') ||
    // 416: the registry's offset is not ours (a chunk it half kept): ask it where it stands.
    (isStrataError(err, 'EREGISTRY') && (retryableStatus(Number(err.found)) || Number(err.found) === 416))
  );
}

/** Reports `base` + the bytes read from `body` as they go out. */
function counted(body: Readable | Buffer, base: number, onProgress?: (done: number) => void): Readable | Buffer {
  if (onProgress === undefined || Buffer.isBuffer(body)) return body;
  let done = base;
  body.on('data', (chunk: Buffer) => onProgress((done += chunk.length)));
  return body;
}
