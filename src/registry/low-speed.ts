import type { Readable } from 'node:stream';

/**
 * The slowest a response body may arrive, as curl's `--speed-limit`/`--speed-time` and
 * git's `http.lowSpeedLimit`/`lowSpeedTime` put it: fewer than `bytesPerSecond` on
 * average over `windowMs` ends the transfer. The idle timeout alone never ends a server
 * that drips a byte now and then; this does, within a window or so.
 */
export interface LowSpeedLimit {
  /** 0 turns the check off. */
  bytesPerSecond: number;
  windowMs: number;
}

/** Below 1 KiB/s for 30 s: far under any network a pull can finish on, far above a drip. */
export const DEFAULT_LOW_SPEED: LowSpeedLimit = { bytesPerSecond: 1024, windowMs: 30_000 };

/** The window is checked in this many steps, so a drip is caught within a window and a tenth. */
const SLICES = 10;

/**
 * Calls `tooSlow` (once, with the average rate) when `body`'s bytes over the last
 * window came in under the limit. Counted on the socket, so the reader's own use of
 * the body is untouched. A window in which the reader stopped taking bytes (the body's
 * buffer full: a slow unpack holds the download back) starts the count again: that
 * slowness is ours, not the server's. The returned function stops the watch; it also
 * stops by itself when the body ends or is destroyed.
 */
export function watchLowSpeed(
  body: Readable,
  bytesRead: () => number,
  limit: LowSpeedLimit,
  tooSlow: (bytesPerSecond: number) => void,
): () => void {
  if (limit.bytesPerSecond <= 0) return () => {};
  const slices: number[] = [];
  let last = bytesRead();
  const tick = () => {
    const now = bytesRead();
    slices.push(now - last);
    last = now;
    if (body.readableLength >= body.readableHighWaterMark) slices.length = 0;
    if (slices.length > SLICES) slices.shift();
    if (slices.length < SLICES) return;
    const rate = slices.reduce((sum, n) => sum + n, 0) / (limit.windowMs / 1000);
    if (rate < limit.bytesPerSecond) {
      stop();
      tooSlow(rate);
    }
  };
  const timer = setInterval(tick, limit.windowMs / SLICES);
  // A watch never keeps the process alive: the request it watches does.
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    body.off('end', stop).off('close', stop);
  };
  body.once('end', stop).once('close', stop);
  return stop;
}
