import { PassThrough, Readable, Transform } from 'node:stream';
import { MessageChannel, Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import { receiveStream, sendStream } from '../layer/port-stream.js';
import type { GzipWorkerSetup } from './gzip-worker.js';

/** The one place the worker's module is named; a bundled CLI must keep this URL working. */
const WORKER_URL = new URL('./gzip-worker.js', import.meta.url);

/**
 * A stream that ends within this many bytes is gzipped on the calling thread: a
 * worker's start (about 40 ms of CPU and 9 MiB) costs more than it could save.
 */
export const WORKER_MIN_BYTES = 8 * 1024 * 1024;

/**
 * `input` gzipped, on a worker thread once it has passed WORKER_MIN_BYTES. zlib runs
 * each chunk as a thread-pool job but starts the next one only from the event loop of
 * the thread that drives it: driven from a thread that is also walking a tree and
 * unpacking it (commit), the compressor sat idle through every stretch of that work,
 * and the two took turns on two cores. A worker's loop has nothing else to do.
 *
 * The bytes are the same either way: deflate's output depends on the input and the
 * options, not on how the input was cut into chunks or which thread fed it.
 * `input` may have other readers: its chunks are copied, never moved to the worker.
 * Destroying the returned stream stops the compression and the worker.
 */
export function gzipStream(input: Readable, options: zlib.ZlibOptions): Readable {
  // Own copies: a worker takes each chunk's memory (transferred, not copied again).
  const own = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _encoding, done) {
      done(null, Buffer.from(chunk));
    },
  });
  const output = new PassThrough({ highWaterMark: 1 << 20 });
  input.pipe(own);
  input.on('error', (err) => own.destroy(err));
  own.on('error', (err) => output.destroy(err));
  output.once('close', () => own.destroy());

  const connect = (gzipped: Readable) => {
    gzipped.on('error', (err) => output.destroy(err));
    output.once('close', () => gzipped.destroy());
    gzipped.pipe(output);
  };
  // The first WORKER_MIN_BYTES are held until it is clear which side compresses them.
  const held: Buffer[] = [];
  let heldBytes = 0;
  const onData = (chunk: Buffer) => {
    held.push(chunk);
    heldBytes += chunk.length;
    if (heldBytes < WORKER_MIN_BYTES) return;
    own.off('data', onData).off('end', onEnd).pause();
    for (const chunk of held.reverse()) own.unshift(chunk);
    connect(gzipOnWorker(own, options));
    own.resume();
  };
  const onEnd = () => connect(Readable.from(held).pipe(zlib.createGzip(options)));
  own.on('data', onData).once('end', onEnd);
  return output;
}

/** `input` gzipped on a worker of its own, which stops when the stream ends or fails or the result is destroyed. */
function gzipOnWorker(input: Readable, options: zlib.ZlibOptions): Readable {
  const toWorker = new MessageChannel();
  const fromWorker = new MessageChannel();
  const setup: GzipWorkerSetup = { input: toWorker.port2, output: fromWorker.port1, options };
  const worker = new Worker(WORKER_URL, { workerData: setup, transferList: [toWorker.port2, fromWorker.port1] });
  const stopFeeding = sendStream(input, toWorker.port1);
  const gzipped = receiveStream(fromWorker.port2);
  worker.on('error', (err) => gzipped.destroy(err));
  worker.once('exit', (code) => {
    if (code !== 0 && !gzipped.readableEnded) gzipped.destroy(new Error(`gzip worker exited with code ${code}`));
  });
  gzipped.once('close', () => {
    stopFeeding();
    void worker.terminate();
  });
  return gzipped;
}
