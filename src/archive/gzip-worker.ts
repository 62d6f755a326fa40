import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import zlib from 'node:zlib';
import { receiveStream, sendStream } from '../layer/port-stream.js';

/**
 * A gzip worker (gzip-stream.ts starts one per stream): the bytes that arrive on
 * `input` leave gzipped on `output`. Its event loop has nothing else to do, so each
 * zlib job is followed by the next at once.
 */
export interface GzipWorkerSetup {
  input: MessagePort;
  output: MessagePort;
  options: zlib.ZlibOptions;
}

if (parentPort === null) throw new Error('gzip-worker.js runs only as a worker thread (archive/gzip-stream.ts starts it)');
const { input, output, options } = workerData as GzipWorkerSetup;
const gzip = zlib.createGzip(options);
const plain = receiveStream(input);
plain.pipe(gzip);
// Either failure reaches the other thread as an error message (sendStream).
plain.on('error', (err) => gzip.destroy(err));
const stopSending = sendStream(gzip, output);
gzip.once('close', () => {
  stopSending();
  input.close();
});
