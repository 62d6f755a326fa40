/**
 * The publish stage: image records and tags are written under the store lock, and a
 * failure part-way takes back every record the call wrote.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { publishImages } from '../../src/image/publish.js';
import { writeImageRecord, type ImageRecord } from '../../src/image/record.js';
import { writeTags } from '../../src/image/tags.js';
import type { Store } from '../../src/store/root.js';
import { tmpStore } from '../helpers/tmp-store.js';

const digest = (c: string) => `sha256:${c.repeat(64)}`;

function record(id: string, loaded = '2026-01-01T00:00:00.000Z'): ImageRecord {
  return {
    id,
    configDigest: id,
    manifestDigest: null,
    layers: [
      {
        diffId: digest('d'),
        chainId: digest('d'),
        blobDigest: digest('e'),
        blobMediaType: 'application/vnd.oci.image.layer.v1.tar',
        blobSize: 2048,
        size: 7,
      },
    ],
    size: 7,
    created: '2025-01-01T00:00:00.000Z',
    loaded,
  };
}

/** Every file under images/ and tags.json, with its bytes: "as it was" means these are equal. */
async function published(store: Store): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await fs.readdir(store.paths.imagesDir).catch(() => [] as string[])).sort()) {
    out[`images/${name}`] = await fs.readFile(path.join(store.paths.imagesDir, name), 'utf8');
  }
  out['tags.json'] = await fs.readFile(store.paths.tagsFile, 'utf8').catch(() => '(none)');
  return out;
}

/**
 * Makes the atomic write of a file of this store whose name ends with `suffix` fail
 * with EIO, until the test ends. It patches fs for the whole process: tests that use
 * it run serially.
 */
function failWritesOf(t: ExecutionContext, store: Store, suffix: string): void {
  const open = fs.open;
  t.teardown(() => {
    fs.open = open;
  });
  fs.open = (async (file: string, ...rest: unknown[]) => {
    const name = path.basename(String(file));
    if (String(file).startsWith(`${store.root}${path.sep}`) && name.startsWith('.tmp-') && name.endsWith(suffix)) {
      throw Object.assign(new Error(`EIO: i/o error, open '${String(file)}'`), {
        code: 'EIO',
        errno: -5,
        syscall: 'open',
        path: String(file),
      });
    }
    return (open as (...args: unknown[]) => ReturnType<typeof open>)(file, ...rest);
  }) as typeof fs.open;
}

test('records are written as given and their tags moved in one write, naming the tags that moved', async (t) => {
  const { store } = await tmpStore(t);
  await writeTags(store, { 'app:1': digest('1'), 'keep:1': digest('1') });
  const a = record(digest('a'));
  const b = record(digest('b'));
  const result = await publishImages(store, [
    { record: a, repoTags: ['app:1', 'app:latest'] },
    { record: b, repoTags: [] },
  ]);
  t.deepEqual(result, [
    { id: a.id, repoTags: ['app:1', 'app:latest'], retagged: [{ tag: 'app:1', previous: digest('1') }] },
    { id: b.id, repoTags: [], retagged: [] },
  ]);
  t.deepEqual(await published(store), {
    [`images/${'a'.repeat(64)}.json`]: `${JSON.stringify(a, null, 2)}\n`,
    [`images/${'b'.repeat(64)}.json`]: `${JSON.stringify(b, null, 2)}\n`,
    'tags.json': `${JSON.stringify({ 'app:1': a.id, 'app:latest': a.id, 'keep:1': digest('1') }, null, 2)}\n`,
  });
});

test('a tag already on the image is not reported as moved', async (t) => {
  const { store } = await tmpStore(t);
  const a = record(digest('a'));
  await publishImages(store, [{ record: a, repoTags: ['app:1'] }]);
  t.deepEqual(await publishImages(store, [{ record: record(a.id, '2026-02-02T00:00:00.000Z'), repoTags: ['app:1'] }]), [
    { id: a.id, repoTags: ['app:1'], retagged: [] },
  ]);
});

test.serial('when tags.json cannot be written, new records are removed and overwritten ones restored byte for byte', async (t) => {
  const { store } = await tmpStore(t);
  const old = record(digest('a'));
  await writeImageRecord(store, old);
  await writeTags(store, { 'app:1': digest('1') });
  const before = await published(store);
  failWritesOf(t, store, '-tags.json');
  const err = (await t.throwsAsync(
    publishImages(store, [
      { record: record(old.id, '2026-03-03T00:00:00.000Z'), repoTags: ['app:1'] },
      { record: record(digest('b')), repoTags: ['other:1'] },
    ]),
  )) as NodeJS.ErrnoException;
  t.is(err.code, 'EIO');
  t.deepEqual(await published(store), before);
  t.deepEqual(
    (await fs.readdir(store.root)).filter((n) => n.startsWith('.tmp-')),
    [],
    'no temp file is left behind',
  );
});

test.serial('when the second record cannot be written, the first is taken back and no tag moves', async (t) => {
  const { store } = await tmpStore(t);
  await writeTags(store, { 'app:1': digest('1') });
  const before = await published(store);
  failWritesOf(t, store, `-${'b'.repeat(64)}.json`);
  const err = (await t.throwsAsync(
    publishImages(store, [
      { record: record(digest('a')), repoTags: ['app:1'] },
      { record: record(digest('b')), repoTags: ['app:2'] },
    ]),
  )) as NodeJS.ErrnoException;
  t.is(err.code, 'EIO');
  t.deepEqual(await published(store), before);
});

test.serial('an image published twice in one failed call is restored to what it was before the call', async (t) => {
  const { store } = await tmpStore(t);
  const old = record(digest('a'));
  await writeImageRecord(store, old);
  const before = await published(store);
  failWritesOf(t, store, '-tags.json');
  await t.throwsAsync(
    publishImages(store, [
      { record: record(old.id, '2026-04-04T00:00:00.000Z'), repoTags: ['a:1'] },
      { record: record(old.id, '2026-05-05T00:00:00.000Z'), repoTags: ['a:2'] },
    ]),
  );
  t.deepEqual(await published(store), before);
});
