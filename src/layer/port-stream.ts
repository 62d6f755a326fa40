import type { MessagePort } from 'node:worker_threads';
import { Readable } from 'node:stream';
import { receiveError, sendError, type SentError } from './import-messages.js';

/**
 * A byte stream carried from one thread to another over a MessagePort, for a layer
 * whose bytes arrive on the main thread (a registry pull) but are staged on an import
 * worker. Each chunk's memory is transferred, not copied. The receiver acknowledges
 * bytes as its reader takes them, and the sender stops reading its source while more
 * than IN_FLIGHT_BYTES are unacknowledged: a slow unpack slows the download, as it
 * does on one thread, and memory stays bounded.
 */
export type PortMessage =
  /** Sender to receiver. */
  | { type: 'chunk'; bytes: ArrayBuffer }
  | { type: 'end' }
  | { type: 'error'; error: SentError }
  /** Receiver to sender: this many more bytes were taken by the reader. */
  | { type: 'ack'; bytes: number };

/** Bytes on their way at once: a few of the stage's 1 MiB buffers, so neither side waits on the other's round trip. */
export const IN_FLIGHT_BYTES = 4 * 1024 * 1024;

/**
 * Feeds `source` into `port` until it ends or fails (then the receiver's stream
 * fails with the same error). The returned function stops the feed: the source is
 * destroyed and the port closed — for when the receiver is done or gone.
 */
export function sendStream(source: Readable, port: MessagePort): () => void {
  let inFlight = 0;
  let stopped = false;
  const onData = (chunk: Buffer) => {
    // A chunk that shares a larger pool buffer is copied, so only its own bytes move.
    const bytes =
      chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength
        ? (chunk.buffer as ArrayBuffer)
        : (chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer);
    inFlight += bytes.byteLength;
    port.postMessage({ type: 'chunk', bytes } satisfies PortMessage, [bytes]);
    if (inFlight >= IN_FLIGHT_BYTES) source.pause();
  };
  const onEnd = () => port.postMessage({ type: 'end' } satisfies PortMessage);
  const onError = (err: Error) => {
    if (!stopped) port.postMessage({ type: 'error', error: sendError(err) } satisfies PortMessage);
  };
  port.on('message', (message: PortMessage) => {
    if (message.type !== 'ack') return;
    inFlight -= message.bytes;
    if (inFlight < IN_FLIGHT_BYTES && !stopped) source.resume();
  });
  source.on('data', onData).once('end', onEnd).once('error', onError);
  return () => {
    if (stopped) return;
    stopped = true;
    source.off('data', onData).off('end', onEnd);
    source.on('error', () => {}); // the receiver has what it needs; later failures are nobody's
    source.destroy();
    port.close();
  };
}

/** The receiving side: a stream of the bytes `sendStream` feeds into the other end of the channel. */
export function receiveStream(port: MessagePort): Readable {
  let taken = 0;
  const stream = new Readable({
    highWaterMark: 1 << 20,
    // The reader wants more: whatever it took since the last ack may be sent again.
    read() {
      if (taken === 0) return;
      port.postMessage({ type: 'ack', bytes: taken } satisfies PortMessage);
      taken = 0;
    },
    destroy(err, callback) {
      port.close();
      callback(err);
    },
  });
  port.on('message', (message: PortMessage) => {
    if (message.type === 'chunk') {
      taken += message.bytes.byteLength;
      // Below the mark the reader asks again at once (read() above); at or over it, it asks when it has drained.
      stream.push(Buffer.from(message.bytes));
    } else if (message.type === 'end') stream.push(null);
    else if (message.type === 'error') stream.destroy(receiveError(message.error));
  });
  return stream;
}
