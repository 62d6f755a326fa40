/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of a test registry. Every request
 * is logged (method, path, Range, status, body bytes sent); `fault` decides, per request,
 * whether to pass it on untouched or to misbehave: reset the connection after N body
 * bytes (of the response, or of an upload), answer a status of its own (429 with Retry-After, 503), drop Range,
 * or drip the body out a few bytes at a time (a slow-drip server).
 */
import http from 'node:http';
import type net from 'node:net';
import type { ExecutionContext } from 'ava';

export type Fault =
  /** Forward, but cut the connection after this many bytes of the request body (an upload cut off midway). */
  | { kind: 'cut-upload-after'; bytes: number }
  /** Forward, but cut the connection after this many bytes of the response body. */
  | { kind: 'reset-after'; bytes: number }
  /** Answer this status (and headers) instead of forwarding. */
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  /** Forward without the Range header, as a registry that ignores it answers (200, whole blob). */
  | { kind: 'ignore-range' }
  /** Forward, with the body byte at this offset flipped (content that is not what its digest says). */
  | { kind: 'corrupt'; at: number }
  /** Forward the first `after` body bytes (default 0) as they come, then `bytes` every `everyMs` (a slow-drip server). */
  | { kind: 'drip'; after?: number; bytes: number; everyMs: number };

export interface ProxiedRequest {
  method: string;
  path: string;
  range?: string;
  status: number;
  /** Response body bytes the client was sent. */
  bytes: number;
  /** Request body bytes passed on to the registry (an upload's). */
  sent: number;
  /** The request's Content-Range (an upload chunk's). */
  contentRange?: string;
  /** The Location the answer named (an upload session's next URL). */
  location?: string;
  /** When the request arrived (ms since the epoch). */
  at: number;
}

export interface FaultProxy {
  host: string;
  log: ProxiedRequest[];
  /** Asked for every request, in order; undefined passes it through. */
  fault: (request: { method: string; path: string; index: number }) => Fault | undefined;
  /** Response bodies are sent no faster than this (bytes per second); 0 = as fast as they come. */
  throttle: number;
  /** Body bytes sent for blob `digest` (GETs only). */
  blobBytes: (digest: string) => number;
}

export async function startFaultProxy(t: ExecutionContext, target: string): Promise<FaultProxy> {
  const proxy: FaultProxy = {
    host: '',
    log: [],
    fault: () => undefined,
    throttle: 0,
    blobBytes: (digest) =>
      proxy.log.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`)).reduce((n, r) => n + r.bytes, 0),
  };
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const entry: ProxiedRequest = { method: req.method ?? 'GET', path, status: 0, bytes: 0, sent: 0, at: Date.now() };
    if (typeof req.headers.range === 'string') entry.range = req.headers.range;
    if (typeof req.headers['content-range'] === 'string') entry.contentRange = req.headers['content-range'];
    proxy.log.push(entry);
    const fault = proxy.fault({ method: entry.method, path, index: proxy.log.length - 1 });
    if (fault?.kind === 'status') {
      entry.status = fault.status;
      res.writeHead(fault.status, fault.headers ?? {}).end();
      req.resume();
      return;
    }
    // The client's Host goes on unchanged: the registry builds its Locations from it, so uploads come back through here.
    const headers = { ...req.headers };
    if (fault?.kind === 'ignore-range') delete headers.range;
    const upstream = http.request(`http://${target}${path}`, { method: req.method, headers });
    upstream.on('error', () => res.destroy());
    upstream.on('response', (up) => {
      entry.status = up.statusCode ?? 0;
      if (typeof up.headers.location === 'string') entry.location = up.headers.location;
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (fault?.kind === 'drip') {
        drip(up, res, fault, entry);
        return;
      }
      up.on('data', (received: Buffer) => {
        let chunk = received;
        if (fault?.kind === 'corrupt' && fault.at >= entry.bytes && fault.at < entry.bytes + chunk.length) {
          chunk = Buffer.from(chunk);
          const i = fault.at - entry.bytes;
          chunk[i] = chunk[i]! ^ 0xff;
        }
        if (fault?.kind === 'reset-after') {
          const room = fault.bytes - entry.bytes;
          if (room <= 0) return;
          if (chunk.length >= room) {
            entry.bytes += room;
            res.write(chunk.subarray(0, room), () => res.socket?.destroy());
            up.destroy();
            return;
          }
        }
        entry.bytes += chunk.length;
        res.write(chunk);
        if (proxy.throttle > 0) {
          up.pause();
          setTimeout(() => up.resume(), (chunk.length / proxy.throttle) * 1000);
        }
      });
      up.on('end', () => res.end());
    });
    req.on('data', (received: Buffer) => {
      let chunk = received;
      if (fault?.kind === 'cut-upload-after' && entry.sent + chunk.length >= fault.bytes) {
        chunk = chunk.subarray(0, fault.bytes - entry.sent);
        entry.sent += chunk.length;
        // The registry gets the bytes so far, then a connection that breaks; the client a reset.
        upstream.write(chunk, () => {
          upstream.destroy();
          req.socket.destroy();
        });
        req.pause();
        return;
      }
      entry.sent += chunk.length;
      if (!upstream.write(chunk)) {
        req.pause();
        upstream.once('drain', () => req.resume());
      }
    });
    req.on('end', () => upstream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return proxy;
}

/** Sends `up`'s body on to `res` as a drip fault says; what is not sent yet waits here, upstream paused while much does. */
function drip(up: http.IncomingMessage, res: http.ServerResponse, fault: Extract<Fault, { kind: 'drip' }>, entry: ProxiedRequest) {
  const HELD = 1 << 20;
  let held = Buffer.alloc(0);
  let ended = false;
  up.on('data', (chunk: Buffer) => {
    const fast = Math.max(0, Math.min(chunk.length, (fault.after ?? 0) - entry.bytes));
    if (fast > 0) {
      entry.bytes += fast;
      res.write(chunk.subarray(0, fast));
    }
    held = Buffer.concat([held, chunk.subarray(fast)]);
    if (held.length > HELD) up.pause();
  });
  up.on('end', () => {
    ended = true;
  });
  const timer = setInterval(() => {
    if (held.length === 0) {
      if (ended) {
        clearInterval(timer);
        res.end();
      }
      return;
    }
    const slice = held.subarray(0, fault.bytes);
    held = held.subarray(slice.length);
    entry.bytes += slice.length;
    res.write(slice);
    if (held.length < HELD / 2) up.resume();
  }, fault.everyMs);
  res.on('close', () => {
    clearInterval(timer);
    up.destroy();
  });
}
