import test from 'ava';
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import zlib from 'node:zlib';
import { WORKER_MIN_BYTES, gzipStream } from '../../src/archive/gzip-stream.js';

// Runs, text and pseudo-random bytes in uneven chunks, as a tar writer makes them.
function content(bytes: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let made = 0, i = 0; made < bytes; i++) {
    const size = Math.min(bytes - made, 1000 + ((i * 7919) % 300_000));
    const chunk = Buffer.alloc(size, i % 251);
    if (i % 3 === 1) for (let j = 0; j < size; j++) chunk[j] = (j * j + i * 31) >>> 3;
    if (i % 3 === 2) chunk.write(`line ${i} of some text that repeats\n`.repeat(size / 30), 'latin1');
    chunks.push(chunk);
    made += size;
  }
  return chunks;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

for (const [what, bytes] of [
  ['a stream shorter than WORKER_MIN_BYTES (this thread)', 3 * 1024 * 1024],
  ['a stream longer than WORKER_MIN_BYTES (a worker)', WORKER_MIN_BYTES + 5 * 1024 * 1024 + 17],
] as const) {
  test(`${what} gzips to the same bytes as zlib in one call, and a second reader of the input gets it whole`, async (t) => {
    const chunks = content(bytes);
    const whole = Buffer.concat(chunks);
    const input = Readable.from(chunks, { objectMode: false });
    const other = new PassThrough();
    input.pipe(other);
    const [gzipped, seen] = await Promise.all([buffer(gzipStream(input, { chunkSize: 1 << 20 })), buffer(other)]);
    t.is(sha256(gzipped), sha256(zlib.gzipSync(whole)));
    t.is(sha256(seen), sha256(whole));
  });
}

test('an input that fails after the worker started fails the gzipped stream with its error', async (t) => {
  const chunks = content(WORKER_MIN_BYTES + 4 * 1024 * 1024);
  async function* failing() {
    yield* chunks;
    throw new Error('the walk failed');
  }
  const gzipped = gzipStream(Readable.from(failing(), { objectMode: false }), {});
  await t.throwsAsync(buffer(gzipped), { message: 'the walk failed' });
});

test('destroying the gzipped stream stops reading the input once the worker has started', async (t) => {
  let pulled = 0;
  const input = new Readable({
    read() {
      pulled += 1;
      this.push(Buffer.alloc(1 << 20, pulled));
    },
  });
  const gzipped = gzipStream(input, {});
  gzipped.resume();
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.true(pulled * (1 << 20) > WORKER_MIN_BYTES, 'the worker had started');
  gzipped.destroy();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const after = pulled;
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(pulled, after);
});
