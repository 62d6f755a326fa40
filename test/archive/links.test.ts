import test, { type ExecutionContext } from 'ava';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { openArchive } from '../../src/archive/open-archive.js';
import { readImages } from '../../src/archive/read-images.js';
import type { ArchiveSource } from '../../src/archive/source.js';
import { buildImageWithInfo, packTar, type OuterEntry } from '../helpers/image-builder.js';

type Opener = (t: ExecutionContext, tar: Buffer) => Promise<ArchiveSource>;

/** Both readers (indexed in place, spooled from a stream) must follow links the same way. */
const openers: Record<string, Opener> = {
  indexed: async (t, tar) => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-links-'));
    t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
    await fsp.writeFile(path.join(dir, 'x.tar'), tar);
    const source = await openArchive({ path: path.join(dir, 'x.tar') }, { spoolDir: dir });
    t.teardown(() => source.close());
    return source;
  },
  spooled: async (t, tar) => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-links-'));
    t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
    const source = await openArchive({ stream: Readable.from([tar]), displayName: 'x.tar' }, { spoolDir: dir });
    t.teardown(() => source.close());
    return source;
  },
};

const tree: OuterEntry[] = [
  { name: 'real/', type: 'directory' },
  { name: 'real/file', content: 'payload' },
  { name: 'chain1', type: 'symlink', linkname: 'chain2' },
  { name: 'chain2', type: 'symlink', linkname: 'real/./file' },
  { name: 'dirlink', type: 'symlink', linkname: 'real' },
  { name: 'nested/', type: 'directory' },
  { name: 'nested/up', type: 'symlink', linkname: '../real/file' },
  { name: 'hard', type: 'link', linkname: './real/file' },
  { name: 'hard-to-symlink', type: 'link', linkname: 'chain1' },
  { name: './dotted', content: 'dot' },
  { name: '/rooted', content: 'root' },
];

for (const [kind, open] of Object.entries(openers)) {
  test(`${kind}: symlinks and hardlinks inside the archive are followed`, async (t) => {
    const source = await open(t, await packTar(tree));
    for (const name of ['real/file', 'chain1', 'dirlink/file', 'nested/up', 'hard', 'hard-to-symlink', './chain1', '/hard']) {
      t.true(source.has(name), name);
      t.is(source.size(name), 7, name);
      t.is((await buffer(source.open(name))).toString(), 'payload', name);
    }
    t.is((await buffer(source.open('dotted'))).toString(), 'dot');
    t.is((await buffer(source.open('rooted'))).toString(), 'root');
    t.false(source.has('nope'));
    t.false(source.has('real'), 'a directory is not a file');
  });

  const hostile: Array<[string, OuterEntry[], string, string]> = [
    [
      'a relative symlink climbing out',
      [{ name: 'escape', type: 'symlink', linkname: '../outside' }],
      'escape',
      'x.tar: link "escape" points outside the archive ("../outside")',
    ],
    [
      'a symlink climbing out from a subdirectory',
      [{ name: 'a/b', type: 'symlink', linkname: '../../etc/passwd' }],
      'a/b',
      'x.tar: link "a/b" points outside the archive ("../../etc/passwd")',
    ],
    [
      'an absolute symlink',
      [{ name: 'abs', type: 'symlink', linkname: '/etc/passwd' }],
      'abs',
      'x.tar: link "abs" points outside the archive (absolute target "/etc/passwd")',
    ],
    [
      'a hardlink climbing out',
      [{ name: 'h', type: 'link', linkname: '../x' }],
      'h',
      'x.tar: link "h" points outside the archive ("../x")',
    ],
    [
      'a dangling symlink',
      [{ name: 'd', type: 'symlink', linkname: 'nothing' }],
      'd',
      'x.tar: link "d" points to "nothing", which is missing',
    ],
    ['a dangling hardlink', [{ name: 'h', type: 'link', linkname: 'gone' }], 'h', 'x.tar: link "h" points to "gone", which is missing'],
    [
      'a symlink loop',
      [
        { name: 'a', type: 'symlink', linkname: 'b' },
        { name: 'b', type: 'symlink', linkname: 'a' },
      ],
      'a',
      'x.tar: link "a" takes more than 40 hops (a loop?)',
    ],
    [
      'a symlink to a directory',
      [
        { name: 'dir/', type: 'directory' },
        { name: 'l', type: 'symlink', linkname: 'dir' },
      ],
      'l',
      'x.tar: link "l" points to "dir", which is a directory, not a regular file',
    ],
    [
      'a symlinked directory leading out',
      [{ name: 'up', type: 'symlink', linkname: '..' }],
      'up/etc/passwd',
      'x.tar: link "up" points outside the archive ("..")',
    ],
  ];
  for (const [title, entries, name, message] of hostile) {
    test(`${kind}: ${title} is EINVALIDARCHIVE naming the link`, async (t) => {
      const source = await open(t, await packTar(entries));
      for (const attempt of [() => source.open(name), () => source.size(name), () => source.has(name)]) {
        const err = t.throws(attempt);
        t.is((err as Error & { code: string }).code, 'EINVALIDARCHIVE');
        t.is(err!.message.replace(source.displayName, 'x.tar'), message);
      }
    });
  }

  test(`${kind}: entries whose names climb out of the archive are never served`, async (t) => {
    const source = await open(
      t,
      await packTar([
        { name: '../evil', content: 'x' },
        { name: 'a/../../evil2', content: 'y' },
        { name: 'ok', content: 'z' },
      ]),
    );
    t.false(source.has('evil'));
    t.false(source.has('evil2'));
    t.false(source.has('../evil'));
    const err = t.throws(() => source.open('../evil'));
    t.is((err as Error & { code: string }).code, 'EINVALIDARCHIVE');
    t.is(err!.message.replace(source.displayName, 'x.tar'), 'x.tar: entry name "../evil" escapes the archive');
    t.true(source.has('ok'));
  });

  for (const links of ['symlink', 'hardlink'] as const) {
    test(`${kind}: skopeo-style docker archive with ${links}ed layer paths loads`, async (t) => {
      const { tar, image } = await buildImageWithInfo({
        format: 'docker',
        layerLinks: links,
        repoTags: ['docker.io/library/app:1.0'],
        layers: [[{ path: 'a', content: 'one' }], [{ path: 'b', content: 'two' }]],
      });
      const source = await open(t, tar);
      const [found] = await readImages(source);
      t.deepEqual(found!.repoTags, ['app:1.0']);
      t.is(found!.layers.length, 2);
      for (const [i, layer] of found!.layers.entries()) {
        t.regex(layer.path, /^[0-9a-f]{64}\/layer\.tar$/);
        t.is(source.size(layer.path), image.layers[i]!.size);
      }
    });
  }

  test(`${kind}: a manifest layer that is a link leaving the archive is rejected naming the link`, async (t) => {
    const { tar } = await buildImageWithInfo({
      format: 'docker',
      layerLinks: 'symlink',
      layers: [[{ path: 'a', content: 'one' }]],
      editEntries: (entries) => entries.map((e) => (e.type === 'symlink' ? { ...e, linkname: '../../host/layer.tar' } : e)),
    });
    const source = await open(t, tar);
    const err = await t.throwsAsync(readImages(source));
    t.is((err as Error & { code: string }).code, 'EINVALIDARCHIVE');
    t.regex(
      err!.message.replace(source.displayName, 'x.tar'),
      /^x\.tar: link "[0-9a-f]{64}\/layer\.tar" points outside the archive \("\.\.\/\.\.\/host\/layer\.tar"\)$/,
    );
  });
}
