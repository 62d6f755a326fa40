import test from 'ava';
import fs from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { StrataError } from '../../src/errors.js';
import { loadImages } from '../../src/transfer/load.js';
import { checkStore } from '../../src/check/check.js';
import { openStore, type Store } from '../../src/store/root.js';
import { removeTree } from '../../src/store/atomic.js';
import { hostPlatform } from '../../src/archive/platform.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { buildImage, buildMultiImageLayout, hasZstd, type BuildImageOptions, type LayerEntry } from '../helpers/image-builder.js';
import { mutateArchive, mutantRng } from '../helpers/mutate.js';
import { snapshotTree } from '../helpers/store-snapshot.js';

/**
 * Hostile archives: mutants of valid image tarballs (bit flips, truncations, tar
 * header fields, JSON edits, gzip/zstd damage; most with their digests fixed up so
 * the damage gets past the integrity checks) are loaded in-process. Each must either
 * load or fail with a clean error — a StrataError or a Node fs error, with a code and
 * one line — within a time limit; leave a sentinel directory beside the store as it
 * was; leave the store as it was when it failed; and leave `check` clean either way.
 *
 * Seeded: a failure names the seed and mutant index. Replay with
 * STRATA_FUZZ_SEED=<seed> STRATA_FUZZ_ONLY=<i>[,<j>…]; STRATA_FUZZ_KEEP=<dir> keeps
 * the failing mutants' bytes. STRATA_FUZZ_MUTANTS sets how many: 500 by default, so
 * `npm test` stays under ten minutes on two cores; `.ci/run` runs the full 5000.
 */
const MUTANTS = Number(process.env.STRATA_FUZZ_MUTANTS ?? 500);
const SEED = Number(process.env.STRATA_FUZZ_SEED ?? 20_260_214);
const ONLY = process.env.STRATA_FUZZ_ONLY ? process.env.STRATA_FUZZ_ONLY.split(',').map(Number) : null;
const KEEP = process.env.STRATA_FUZZ_KEEP;
/** Mutants in flight at once: loads spend much of their time waiting on fsync. */
const JOBS = Number(process.env.STRATA_FUZZ_JOBS ?? 3);
const CASE_TIMEOUT_MS = Number(process.env.STRATA_FUZZ_TIMEOUT_MS ?? 10_000);
/** Give up after this many failures: each is a bug to fix, and the rest are usually the same one. */
const MAX_FAILURES = 20;
const privileged = process.geteuid?.() === 0;

// ---- fixtures: small images of every shape the readers know -------------------

const base: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/hostname', content: 'fuzz\n' },
  { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
  { path: 'bin/', type: 'dir' },
  { path: 'bin/busybox', size: 3000, mode: 0o755, seed: 7 },
  { path: 'bin/sh', type: 'symlink', linkname: 'busybox' },
  { path: 'bin/ls', type: 'hardlink', linkname: 'bin/busybox' },
  { path: 'link', type: 'symlink', linkname: '/etc' },
  { path: 'dirlink', type: 'symlink', linkname: '../../etc' },
  { path: 'loop', type: 'symlink', linkname: 'loop' },
  { path: 'var/', type: 'dir', mode: 0o700 },
  { path: 'var/lib/', type: 'dir' },
  { path: 'var/lib/data', content: 'd'.repeat(700), uid: 1000, gid: 1000 },
  { path: 'locked/', type: 'dir', mode: 0o000 },
];
const top: LayerEntry[] = [
  { path: 'etc/hostname', type: 'whiteout' },
  { path: 'var/lib', type: 'opaque' },
  { path: 'var/lib/new', content: 'new\n' },
  { path: 'etc/motd', content: 'hello\n', xattrs: { 'user.fuzz': '1' } },
  { path: 'etc/motd.hard', type: 'hardlink', linkname: '/etc/motd' },
  { path: 'tmp/', type: 'dir', mode: 0o1777 },
  { path: 'usr/bin/su', content: 's', mode: 0o4755 },
];

interface Fixture {
  name: string;
  bytes: Buffer;
}

async function fixtures(): Promise<Fixture[]> {
  const zstd = await hasZstd();
  const image = (name: string, options: Partial<BuildImageOptions>) =>
    buildImage({ format: 'docker', repoTags: [`fuzz/${name}:1`], layers: [base, top], ...options } as BuildImageOptions).then((bytes) => ({
      name,
      bytes,
    }));
  const other = hostPlatform().architecture === 's390x' ? 'linux/ppc64le' : 'linux/s390x';
  const list = [
    image('docker-plain', { format: 'docker', compression: 'none' }),
    image('docker-gzip-links', { format: 'docker', compression: 'gzip', layerLinks: 'symlink' }),
    image('oci-gzip', { format: 'oci', compression: 'gzip' }),
    image('docker25-mixed-outer-gzip', {
      format: 'docker25',
      layers: [
        { entries: base, compression: 'gzip' },
        { entries: top, compression: 'none' },
      ],
      outerGzip: true,
    }),
    buildMultiImageLayout({
      images: [
        {
          name: 'fuzz/index:1',
          nested: true,
          index: [
            { layers: [base, top], compression: 'gzip' },
            { layers: [top], platform: other, compression: 'none' },
          ],
        },
      ],
    }).then((bytes) => ({ name: 'oci-nested-index', bytes })),
  ];
  if (zstd) list.push(image('oci-zstd', { format: 'oci', compression: 'zstd' }));
  return Promise.all(list);
}

// ---- one worker: a store per whiteout format, reset from a template ------------

interface Verdict {
  ok: boolean;
  failure?: string;
}

class Worker {
  private readonly stores = new Map<WhiteoutFormat, { store: Store; snapshot: string[] }>();
  readonly sentinel: string;
  private sentinelBefore = '';

  constructor(
    readonly dir: string,
    private readonly templates: Map<WhiteoutFormat, string>,
  ) {
    this.sentinel = path.join(dir, 'sentinel');
  }

  async init(): Promise<void> {
    await fs.mkdir(path.join(this.sentinel, 'sub'), { recursive: true });
    await fs.writeFile(path.join(this.sentinel, 'hello'), 'untouched\n');
    await fs.writeFile(path.join(this.sentinel, 'sub', 'passwd'), 'root:x:0:0::/:/bin/sh\n');
    await fs.symlink('hello', path.join(this.sentinel, 'link'));
    this.sentinelBefore = await sentinelState(this.sentinel);
  }

  /** The store of this format, fresh from its template when `reset`. */
  async store(format: WhiteoutFormat, reset: boolean): Promise<{ store: Store; snapshot: string[] }> {
    const existing = this.stores.get(format);
    if (existing && !reset) return existing;
    const root = path.join(this.dir, `store-${format}`);
    await removeTree(root);
    await fs.cp(this.templates.get(format)!, root, { recursive: true, preserveTimestamps: true });
    const store = await openStore({ root });
    const fresh = { store, snapshot: await snapshotTree(root) };
    this.stores.set(format, fresh);
    return fresh;
  }

  async run(index: number, fixture: Fixture, format: WhiteoutFormat): Promise<Verdict> {
    // One in five is read as a stream (`load` from stdin): spooled through tar-stream
    // instead of indexed in place, the other way an archive is parsed.
    const viaStdin = index % 5 === 4;
    const rng = mutantRng(SEED, index);
    const mutant = mutateArchive(fixture.bytes, rng, this.sentinel);
    const input = path.join(this.dir, 'input.tar');
    await fs.writeFile(input, mutant.bytes);
    const { store, snapshot } = await this.store(format, false);
    const fail = async (why: string): Promise<Verdict> => {
      if (KEEP) {
        await fs.mkdir(KEEP, { recursive: true });
        await fs.writeFile(path.join(KEEP, `mutant-${SEED}-${index}.tar`), mutant.bytes);
      }
      return {
        ok: false,
        failure:
          `mutant ${index} of ${fixture.name}, ${format} store${viaStdin ? ', from stdin' : ''} (replay: STRATA_FUZZ_SEED=${SEED} STRATA_FUZZ_ONLY=${index}): ${why}\n` +
          `  mutations: ${mutant.description.join('\n             ')}`,
      };
    };

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), CASE_TIMEOUT_MS);
    });
    const outcome = await Promise.race([
      loadImages(store, viaStdin ? { stream: createReadStream(input), displayName: 'stdin' } : { path: input }).then(
        () => ({ loaded: true as const }),
        (err: unknown) => ({ loaded: false as const, err }),
      ),
      timeout,
    ]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.stores.delete(format); // the hung load may still write; this store is lost to the batch
      return fail(`no answer within ${CASE_TIMEOUT_MS} ms (a hang)`);
    }
    if (!outcome.loaded) {
      const unclean = uncleanError(outcome.err);
      if (unclean) return fail(unclean);
    }
    const sentinelAfter = await sentinelState(this.sentinel);
    if (sentinelAfter !== this.sentinelBefore)
      return fail(`the sentinel directory beside the store changed:\n${this.sentinelBefore}\n-->\n${sentinelAfter}`);
    const report = await checkStore(store);
    if (report.problems.length > 0) {
      this.stores.delete(format);
      return fail(
        `check found problems after the ${outcome.loaded ? 'load' : 'failed load'}: ${report.problems.map((p) => p.message).join('; ')}`,
      );
    }
    if (!outcome.loaded) {
      const after = await snapshotTree(store.root);
      if (after.join('\n') !== snapshot.join('\n')) {
        this.stores.delete(format);
        const gone = snapshot.filter((r) => !after.includes(r));
        const added = after.filter((r) => !snapshot.includes(r));
        return fail(
          `the failed load (${(outcome.err as Error).message}) changed the store: removed ${JSON.stringify(gone)}, added ${JSON.stringify(added)}`,
        );
      }
    } else {
      await this.store(format, true); // a loaded mutant's layers would be reused by the next: start clean
    }
    return { ok: outcome.loaded };
  }
}

/** Why `err` is not a clean failure, or null when it is one. */
function uncleanError(err: unknown): string | null {
  if (!(err instanceof Error)) return `threw a non-Error: ${String(err)}`;
  const code = (err as { code?: unknown }).code;
  const shown = `${err.constructor.name} ${String(code)}: ${err.message}\n${err.stack ?? ''}`;
  if (err instanceof StrataError) {
    if (err.message === '' || err.message.includes('\n')) return `StrataError without a one-line message: ${shown}`;
    return null;
  }
  // A Node fs error is a plain Error whose code is an errno name (ENOENT, EISDIR…).
  if (err.constructor !== Error || typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return `not a clean error: ${shown}`;
  if (err.message.includes('\n')) return `fs error without a one-line message: ${shown}`;
  return null;
}

/** Every path under the sentinel with its type, mode and content hash. */
async function sentinelState(dir: string): Promise<string> {
  const rows: string[] = [];
  const walk = async (d: string) => {
    for (const name of (await fs.readdir(d)).sort()) {
      const full = path.join(d, name);
      const st = await fs.lstat(full);
      let what = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `link:${await fs.readlink(full)}` : 'other';
      if (st.isFile())
        what = `file:${createHash('sha256')
          .update(await fs.readFile(full))
          .digest('hex')}`;
      rows.push(`${path.relative(dir, full)} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what}`);
      if (st.isDirectory()) await walk(full);
    }
  };
  await walk(dir);
  return rows.join('\n');
}

test('hostile archives: every mutant loads or fails cleanly, touches nothing outside the store and leaves check clean', async (t) => {
  t.timeout(30 * 60_000);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-fuzz-'));
  t.teardown(() => removeTree(dir));
  const all = await fixtures();
  const formats: WhiteoutFormat[] = privileged ? ['oci', 'overlay'] : ['oci'];

  // Templates: a store holding an unrelated image, which no failed load may disturb.
  const templates = new Map<WhiteoutFormat, string>();
  const baseline = path.join(dir, 'baseline.tar');
  await fs.writeFile(
    baseline,
    await buildImage({
      format: 'docker',
      repoTags: ['baseline:1'],
      layers: [
        [
          { path: 'baseline/', type: 'dir' },
          { path: 'baseline/file', content: 'baseline\n' },
        ],
      ],
    }),
  );
  for (const format of formats) {
    const root = path.join(dir, `template-${format}`);
    await loadImages(await openStore({ root, whiteoutFormat: format }), { path: baseline });
    templates.set(format, root);
  }

  const indexes = ONLY ?? Array.from({ length: MUTANTS }, (_, i) => i);
  const failures: [number, string][] = [];
  const inFlight = new Set<number>();
  const stray: string[] = [];
  const onStray = (kind: string) => (err: unknown) => {
    stray.push(
      `${kind} while mutants ${[...inFlight].join(', ')} were in flight (replay: STRATA_FUZZ_SEED=${SEED} STRATA_FUZZ_ONLY=<one of them>): ${(err as Error)?.stack ?? String(err)}`,
    );
  };
  const onRejection = onStray('unhandled rejection');
  const onException = onStray('uncaught exception');
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  let loaded = 0;
  let ran = 0;
  let next = 0;
  const started = Date.now();
  try {
    const work = async (k: number): Promise<void> => {
      const worker = new Worker(path.join(dir, `worker-${k}`), templates);
      await worker.init();
      while (next < indexes.length && failures.length < MAX_FAILURES && stray.length === 0) {
        const index = indexes[next++]!;
        const fixture = all[index % all.length]!;
        const format = formats[Math.floor(index / all.length) % formats.length]!;
        inFlight.add(index);
        const verdict = await worker
          .run(index, fixture, format)
          .catch((err: Error) => ({ ok: false, failure: `mutant ${index}: the harness failed: ${err.stack}` }));
        inFlight.delete(index);
        ran++;
        if (verdict.failure) failures.push([index, verdict.failure]);
        else if (verdict.ok) loaded++;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, JOBS) }, (_, k) => work(k)));
    // A stray rejection of the last mutants may arrive a tick late.
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  }
  failures.sort(([a], [b]) => a - b);
  t.log(
    `${ran} of ${indexes.length} mutants ran, of ${all.length} fixtures (${all.map((f) => f.name).join(', ')}), seed ${SEED}: ` +
      `${loaded} loaded, ${ran - loaded - failures.length} failed cleanly, ${failures.length} misbehaved, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  t.deepEqual(stray, [], 'no unhandled rejection or uncaught exception');
  t.is(failures.length, 0, `${failures.length} mutant(s) misbehaved:\n\n${failures.map(([, f]) => f).join('\n\n')}`);
});
