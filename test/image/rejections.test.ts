import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { loadImages } from '../../src/transfer/load.js';
import type { StrataErrorCode } from '../../src/errors.js';
import type { UnpackLimits } from '../../src/layer/limits.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type BuildImageOptions, type LayerEntry, type OuterEntry } from '../helpers/image-builder.js';
import { makeTar } from '../helpers/make-tar.js';
import { snapshotTree } from '../helpers/store-snapshot.js';

// Every class of bad input: the load fails with one clear error naming the archive,
// the store is byte-for-byte what it was (an image loaded before stays intact), and
// nothing beside the store is touched.
const base: LayerEntry[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/hostname', content: 'base\n' },
];

interface Case {
  build: () => Promise<Buffer>;
  code: StrataErrorCode;
  message: RegExp;
  limits?: UnpackLimits;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const text = (e: OuterEntry) => Buffer.from(e.content ?? '').toString('utf8');

/** Rewrites a docker-save archive's config (and its digest-derived name) through `mutate`: in place, or by returning new bytes. */
// biome-ignore lint/suspicious/noConfusingVoidType: a mutator either changes the config in place (void) or returns its replacement
function editDockerConfig(mutate: (config: { rootfs: { diff_ids: string[] } }) => void | string) {
  return (entries: OuterEntry[]): OuterEntry[] => {
    const manifestEntry = entries.find((e) => e.name === 'manifest.json')!;
    const manifest = JSON.parse(text(manifestEntry));
    const configEntry = entries.find((e) => e.name === manifest[0].Config)!;
    const config = JSON.parse(text(configEntry));
    const replaced = mutate(config);
    const body = typeof replaced === 'string' ? replaced : JSON.stringify(config);
    configEntry.content = body;
    configEntry.name = `${sha(body)}.json`;
    manifest[0].Config = configEntry.name;
    manifestEntry.content = JSON.stringify(manifest);
    return entries;
  };
}

function image(extra: Partial<BuildImageOptions>): Promise<Buffer> {
  return buildImage({
    format: 'docker',
    repoTags: ['bad:1'],
    layers: [base, [{ path: 'new.txt', content: 'fresh layer' }]],
    ...extra,
  } as BuildImageOptions);
}

const rejects = test.macro({
  async exec(t: ExecutionContext, c: Case) {
    const { store, dir } = await tmpStore(t);
    const victim = path.join(dir, 'victim');
    await fs.mkdir(victim);
    await fs.writeFile(path.join(victim, 'hello'), 'untouched');
    await fs.writeFile(path.join(dir, 'good.tar'), await buildImage({ format: 'oci', repoTags: ['good:1'], layers: [base] }));
    await loadImages(store, { path: path.join(dir, 'good.tar') });
    const before = await snapshotTree(store.root);
    const archive = path.join(dir, 'input.tar');
    await fs.writeFile(archive, await c.build());
    const outside = await snapshotTree(dir);

    const err = await t.throwsAsync(loadImages(store, { path: archive }, { limits: c.limits }));
    t.is((err as { code?: string }).code, c.code);
    t.regex(err!.message, c.message);
    t.true(err!.message.includes('input.tar'), `the message names the archive: ${err!.message}`);
    t.false(err!.message.includes('\n'), 'one line');
    t.deepEqual(await snapshotTree(store.root), before, 'store left exactly as it was');
    t.deepEqual(
      (await snapshotTree(dir)).filter((r) => !r.startsWith('store')),
      outside.filter((r) => !r.startsWith('store')),
    );
    t.is(await fs.readFile(path.join(victim, 'hello'), 'utf8'), 'untouched');
  },
  title: (name = '') => `rejected import leaves the store as it was: ${name}`,
});

test('layer blob whose digest is not its name', rejects, {
  build: () =>
    buildImage({
      format: 'oci',
      repoTags: ['bad:1'],
      layers: [base, [{ path: 'x', content: 'x' }]],
      editEntries: (entries) => {
        const bytesOf = (e: OuterEntry) => (e.file ? readFileSync(e.file) : Buffer.from(e.content ?? ''));
        // Every gzip layer: the base one is already stored (verified) and is reused without being read.
        for (const layer of entries.filter((e) => e.name.startsWith('blobs/sha256/') && bytesOf(e)[0] === 0x1f)) {
          const bytes = bytesOf(layer);
          delete layer.file;
          bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
          layer.content = bytes;
        }
        return entries;
      },
    }),
  code: 'EINTEGRITY',
  message: /mismatch/,
});

test('second layer whose diffID is not the one the config names (after the first was stored)', rejects, {
  build: () =>
    image({
      editEntries: editDockerConfig((c) => {
        c.rootfs.diff_ids[1] = `sha256:${'0'.repeat(64)}`;
      }),
    }),
  code: 'EINTEGRITY',
  message: /diff ?id|mismatch/i,
});

test('config that lists fewer layers than the manifest', rejects, {
  build: () =>
    image({
      editEntries: editDockerConfig((c) => {
        c.rootfs.diff_ids.pop();
      }),
    }),
  code: 'EINVALIDARCHIVE',
  message: /config lists 1 layers/,
});

test('config that is not JSON', rejects, {
  build: () => image({ editEntries: editDockerConfig(() => '{"rootfs": [oops') }),
  code: 'EINVALIDARCHIVE',
  message: /JSON/,
});

test('manifest.json that is not JSON', rejects, {
  build: () => image({ editEntries: (entries) => entries.map((e) => (e.name === 'manifest.json' ? { ...e, content: '[{"Config":' } : e)) }),
  code: 'EINVALIDARCHIVE',
  message: /manifest\.json/,
});

test('manifest layer path that climbs out of the archive', rejects, {
  build: () =>
    image({
      editEntries: (entries) =>
        entries.map((e) => {
          if (e.name !== 'manifest.json') return e;
          const m = JSON.parse(text(e));
          m[0].Layers[0] = '../../../etc/passwd';
          return { ...e, content: JSON.stringify(m) };
        }),
    }),
  code: 'EINVALIDARCHIVE',
  message: /etc\/passwd/,
});

test('layer blob missing from the archive', rejects, {
  build: () =>
    image({
      editEntries: (entries) =>
        entries.filter(
          (e) => !e.name.endsWith('layer.tar') || entries.indexOf(e) !== entries.findIndex((x) => x.name.endsWith('layer.tar')),
        ),
    }),
  code: 'EINVALIDARCHIVE',
  message: /layer\.tar/,
});

test('truncated archive', rejects, {
  build: async () => {
    const tar = await image({});
    return tar.subarray(0, Math.floor(tar.length * 0.6));
  },
  code: 'EINVALIDARCHIVE',
  message: /truncated|short|unexpected end|missing/i,
});

test('layer entry that climbs out with ..', rejects, {
  build: async () => {
    const layer = await makeTar([{ name: '../../victim/hello', content: 'pwned' }]);
    return image({ layers: [base, { entries: [], compression: 'none' }], editEntries: swapLastLayer(layer) });
  },
  code: 'EINVALIDARCHIVE',
  message: /\.\./,
});

test('layer entry with a negative mtime (GNU base-256), which tar-stream alone would accept', rejects, {
  build: async () => {
    const layer = await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/old', content: 'x', raw: { mtime: -1 } },
    ]);
    return image({ layers: [base, { entries: [], compression: 'none' }], editEntries: swapLastLayer(layer) });
  },
  code: 'EINVALIDARCHIVE',
  message: /: entry "etc\/old": mtime -1 is out of range: a negative number \(GNU base-256\)$/,
});

test('layer entry whose size runs past the end of the layer', rejects, {
  build: async () => {
    const layer = await makeTar([{ name: 'big', content: 'ten bytes.', raw: { size: 5000 } }]);
    return image({ layers: [base, { entries: [], compression: 'none' }], editEntries: swapLastLayer(layer) });
  },
  code: 'EINVALIDARCHIVE',
  message: /: entry "big": its size \(5000 bytes\) runs past the end of the layer stream: 3464 bytes of data missing$/,
});

test('decompression bomb over the size limit', rejects, {
  build: async () => image({ layers: [base, { entries: [{ path: 'zeros', content: Buffer.alloc(8 << 20) }], compression: 'gzip' }] }),
  limits: { maxEntries: 1000, maxBytes: 1 << 20 },
  code: 'ELIMIT',
  message: /limit|more than/i,
});

test('entry flood over the entry limit', rejects, {
  build: async () => image({ layers: [base, Array.from({ length: 300 }, (_, i): LayerEntry => ({ path: `f${i}`, content: '' }))] }),
  limits: { maxEntries: 100, maxBytes: 1 << 30 },
  code: 'ELIMIT',
  message: /entries|limit/i,
});

/** Replaces the last layer.tar of a docker archive and fixes the config's diffID to match, so only the entry rule is tested. */
function swapLastLayer(layer: Buffer) {
  return (entries: OuterEntry[]): OuterEntry[] => {
    const manifest = JSON.parse(text(entries.find((e) => e.name === 'manifest.json')!));
    const lastPath: string = manifest[0].Layers.at(-1);
    for (const e of entries)
      if (e.name === lastPath) {
        e.content = layer;
        delete e.file;
      }
    return editDockerConfig((c) => {
      c.rootfs.diff_ids[c.rootfs.diff_ids.length - 1] = `sha256:${sha(layer)}`;
    })(entries);
  };
}

test('gzip stream that is corrupt mid-way is an invalid archive, not a zlib error', async (t) => {
  const bytes = zlib.gzipSync(Buffer.alloc(1 << 16, 7));
  bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
  const { store, dir } = await tmpStore(t);
  const archive = path.join(dir, 'corrupt.tar.gz');
  await fs.writeFile(archive, bytes);
  const err = await t.throwsAsync(loadImages(store, { path: archive }));
  t.is((err as { code?: string }).code, 'EINVALIDARCHIVE');
  t.true(err!.message.includes('corrupt.tar.gz'));
});
