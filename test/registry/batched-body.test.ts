import test from 'ava';
import { setTimeout as delay } from 'node:timers/promises';
import { BATCH_BYTES, batchedBody } from '../../src/registry/batched-body.js';

/** A body of `count` chunks of `size` bytes (chunk i filled with i), `gapMs` apart; fails after them when `failure` is given. */
async function* body(count: number, size: number, gapMs: number, failure?: Error): AsyncGenerator<Buffer> {
  for (let i = 0; i < count; i++) {
    if (gapMs > 0) await delay(gapMs);
    yield Buffer.alloc(size, i);
  }
  if (failure) throw failure;
}

const expected = (count: number, size: number) => Buffer.concat(Array.from({ length: count }, (_, i) => Buffer.alloc(size, i)));

test('a fast body comes out in batches of at least 256 KiB, every byte in order', async (t) => {
  const batches: Buffer[] = [];
  for await (const batch of batchedBody(body(100, 16 * 1024, 0))) batches.push(batch);
  t.deepEqual(
    batches.map((b) => b.length),
    [...Array(6).fill(BATCH_BYTES), 4 * 16 * 1024],
  );
  t.true(Buffer.concat(batches).equals(expected(100, 16 * 1024)));
});

test('a body that drips is passed on as it arrives, not held back for a full batch', async (t) => {
  const started = Date.now();
  const source = batchedBody(body(200, 1024, 10));
  const first = await source.next();
  const waited = Date.now() - started;
  await source.return(undefined);
  // 256 KiB at 1 KiB per 10 ms would take over 2.5 s; the first batch comes well before.
  t.true(!first.done && first.value.length < 100 * 1024, `first batch: ${first.done ? 'none' : first.value.length} bytes`);
  t.true(waited < 1500, `first batch after ${waited} ms`);
});

test('what arrived before the body failed is passed on first, then the failure', async (t) => {
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  const batches: Buffer[] = [];
  const failure = await t.throwsAsync(async () => {
    for await (const batch of batchedBody(body(5, 1000, 0, reset))) batches.push(batch);
  });
  t.is(failure, reset);
  t.true(Buffer.concat(batches).equals(expected(5, 1000)));
});
