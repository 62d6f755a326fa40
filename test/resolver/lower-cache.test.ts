import test from 'ava';
import { LowerCache } from '../../src/resolver/lower-cache.js';

/** Counts how often each key had to be computed. */
function counting(): { computed: Map<string, number>; compute: (key: string, value?: string[]) => () => Promise<string[]> } {
  const computed = new Map<string, number>();
  return {
    computed,
    compute:
      (key, value = [key]) =>
      async () => {
        computed.set(key, (computed.get(key) ?? 0) + 1);
        return value;
      },
  };
}

test('an answer is computed once and then served from memory', async (t) => {
  const cache = new LowerCache<string[]>(100, (v) => v.length);
  const { computed, compute } = counting();
  t.deepEqual(await cache.get('a', compute('a')), ['a']);
  t.deepEqual(await cache.get('a', compute('a')), ['a']);
  t.is(computed.get('a'), 1);
});

test('concurrent lookups of one key share one computation', async (t) => {
  const cache = new LowerCache<string[]>(100, (v) => v.length);
  const { computed, compute } = counting();
  const answers = await Promise.all([cache.get('k', compute('k')), cache.get('k', compute('k')), cache.get('k', compute('k'))]);
  t.deepEqual(answers, [['k'], ['k'], ['k']]);
  t.is(computed.get('k'), 1);
});

test('past its cost bound the oldest answers are dropped and computed again when asked', async (t) => {
  // A listing costs its number of names: three of two names each do not fit in five.
  const cache = new LowerCache<string[]>(5, (v) => v.length);
  const { computed, compute } = counting();
  for (const key of ['a', 'b', 'c']) await cache.get(key, compute(key, [key, `${key}2`]));
  await cache.get('c', compute('c'));
  t.is(computed.get('c'), 1, 'the newest answer is kept');
  t.deepEqual(await cache.get('a', compute('a', ['a', 'a2'])), ['a', 'a2']);
  t.is(computed.get('a'), 2, 'the oldest answer was dropped');
});

test('a failed computation is forgotten, so the next lookup tries again', async (t) => {
  const cache = new LowerCache<string[]>(100, (v) => v.length);
  await t.throwsAsync(
    cache.get('x', async () => {
      throw new Error('EIO');
    }),
    { message: 'EIO' },
  );
  t.deepEqual(await cache.get('x', async () => ['x']), ['x']);
});
