/**
 * The in-root resolver on its own, its work counted in system calls: each name and
 * each link is looked at once, whatever the depth and however many entries pass
 * through the same links, and the 40-link limit counts cached links too.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StrataError } from '../../src/errors.js';
import { NAME_LIMITS, type NameLimits } from '../../src/layer/limits.js';
import { RootResolver } from '../../src/layer/resolve-in-root.js';
import { LayerTree } from '../../src/layer/safe-fs.js';

interface Counted {
  root: string;
  tree: LayerTree;
  resolver: RootResolver;
  calls: { lstat: number; readlink: number };
  /** Where the entry `name` goes (its parent made when missing), as a real path below the root. */
  place(name: string, create?: boolean): string | null;
}

function counted(t: ExecutionContext, limits: NameLimits = NAME_LIMITS): Counted {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-resolve-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const tree = new LayerTree(root, (_rel, kind) => {
    if (kind !== 'other') resolver.forget();
  });
  const calls = { lstat: 0, readlink: 0 };
  const lstat = tree.lstat.bind(tree);
  const readlink = tree.readlink.bind(tree);
  tree.lstat = (rel) => {
    calls.lstat += 1;
    return lstat(rel);
  };
  tree.readlink = (rel) => {
    calls.readlink += 1;
    return readlink(rel);
  };
  const resolver = new RootResolver(tree, { beforeImpliedDir() {}, afterImpliedDir() {} }, limits);
  const place = (name: string, create = true) =>
    resolver.resolveEntry(name.split('/'), { source: 'test layer', entry: name }, create)?.rel ?? null;
  return { root, tree, resolver, calls, place };
}

const nested = (n: number): string => Array.from({ length: n }, () => 'a').join('/');

test('every directory of a deep name is found again without a system call', (t) => {
  const { calls, place } = counted(t);
  t.is(place(`${nested(1023)}/f`), `${nested(1023)}/f`);
  t.is(calls.lstat, 1, 'one lstat finds the first directory missing; the other 1,022 are made without asking');
  // Each entry of a layer that lists its directories one by one, deepest last: with
  // only whole names remembered, each would walk its path again (half a million lstats).
  const names = Array.from({ length: 1023 }, (_, i) => `${nested(i + 1)}/f`);
  t.deepEqual(
    names.map((name) => place(name)),
    names,
  );
  t.is(calls.lstat, 1);
});

test('entries through many links into one chain of links read each link once', (t) => {
  const { root, calls, place } = counted(t);
  fs.mkdirSync(path.join(root, 'd'));
  for (let i = 0; i < 39; i++) fs.symlinkSync(i === 38 ? 'd' : `l${i + 1}`, path.join(root, `l${i}`));
  for (let j = 0; j < 200; j++) fs.symlinkSync('l0', path.join(root, `k${j}`));
  for (let j = 0; j < 200; j++) t.is(place(`k${j}/f${j}`), `d/f${j}`);
  // The first entry walks k0 and the 39 links of the chain to d; each later one reads
  // only its own link, not the chain again (200 × 40 readlinks before the cache).
  t.is(calls.readlink, 200 + 39);
  t.is(calls.lstat, 41 + 199);
});

test('links taken from the cache still count toward the 40-link limit', (t) => {
  const { root, place } = counted(t);
  fs.mkdirSync(path.join(root, 'd'));
  for (let i = 0; i < 39; i++) fs.symlinkSync(i === 38 ? 'd' : `l${i + 1}`, path.join(root, `l${i}`));
  fs.symlinkSync('l0', path.join(root, 'k'));
  fs.symlinkSync('k', path.join(root, 'm'));
  t.is(place('k/f'), 'd/f', '40 links: k and the chain of 39');
  const err = t.throws(() => place('m/f')) as StrataError;
  t.is(err.message, 'test layer: entry "m/f": too many levels of symbolic links (more than 40 in one lookup)');
});

test('a link replaced by another is followed to its new target', (t) => {
  const { root, tree, place } = counted(t);
  fs.mkdirSync(path.join(root, 'old'));
  fs.mkdirSync(path.join(root, 'new'));
  fs.symlinkSync('old', path.join(root, 'l'));
  t.is(place('l/x'), 'old/x');
  return tree.remove('l').then(() => {
    fs.symlinkSync('new', path.join(root, 'l'));
    t.is(place('l/y'), 'new/y');
  });
});

test('a missing parent is not made when only looked up', (t) => {
  const { root, place } = counted(t);
  t.is(place('a/b/c', false), null);
  t.false(fs.existsSync(path.join(root, 'a')));
});

test('a directory listed twice keeps what is known below it', (t) => {
  const { root, resolver, calls, place } = counted(t);
  fs.mkdirSync(path.join(root, 'a'));
  resolver.remember(['a'], 'a');
  t.is(place('a/b/c/f'), 'a/b/c/f');
  const before = calls.lstat;
  resolver.remember(['a'], 'a');
  t.is(place('a/b/c/g'), 'a/b/c/g');
  t.is(calls.lstat, before, 'a/b and a/b/c are still known');
});

/** Links l0 → … → l9 → d, each through `d/../` twenty times: 21 lstats (itself and 20 × d) and a readlink per link. */
function costlyChain(root: string): void {
  fs.mkdirSync(path.join(root, 'd'));
  for (let i = 0; i < 10; i++) fs.symlinkSync(`${'d/../'.repeat(20)}${i === 9 ? 'd' : `l${i + 1}`}`, path.join(root, `l${i}`));
}

test('a layer that keeps dropping the caches to walk a costly chain again runs out of lookups', async (t) => {
  const limits = { ...NAME_LIMITS, lookupBase: 500, lookupsPerEntry: 8 };
  const { root, tree, calls, place } = counted(t, limits);
  costlyChain(root);
  let rounds = 0;
  const err = (await t.throwsAsync(async () => {
    for (; rounds < 100; rounds++) {
      fs.symlinkSync('l0', path.join(root, 'k'));
      place(`k/f${rounds}`);
      await tree.remove('k'); // a removed link drops every cached resolution
    }
  })) as StrataError;
  t.is(err.code, 'ELIMIT');
  t.regex(
    err.message,
    /^test layer: entry "k\/f2": resolving the layer's first 3 entries took 525 lookups \(500 and 8 per entry\), the limit is 524$/,
  );
  t.is(rounds, 2, 'the third walk of the chain is refused');
  t.is(calls.lstat + calls.readlink - rounds, 524, 'and nothing past the budget was looked up (less the lstat of each removal)');
});

test('entries that reuse a costly chain through the caches stay far within the lookup budget', (t) => {
  const limits = { ...NAME_LIMITS, lookupBase: 500, lookupsPerEntry: 8 };
  const { root, calls, place } = counted(t, limits);
  costlyChain(root);
  fs.symlinkSync('l0', path.join(root, 'k'));
  for (let i = 0; i < 1000; i++) t.is(place(`k/f${i}`), `d/f${i}`);
  t.is(calls.lstat + calls.readlink, 10 * 22 + 2 + 1, 'the chain once (10 × 22), k once (2) and d at its end (1)');
});
