/**
 * A failed `cp` leaves nothing of itself. Out to the host: a destination the copy
 * created is removed; an existing directory it merged into keeps exactly what it
 * had. Into a container: what the copy created in the view is removed again, and
 * an existing directory it merged into lists as before.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { makeTar } from '../helpers/make-tar.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { copyFromView, copyToView, extractToView } from '../../src/container/copy.js';
import { fsError } from '../../src/errors.js';
import type { Resolver } from '../../src/resolver/resolver.js';

const LAYERS: LayerInput[] = [
  [
    { path: 'srv/' },
    { path: 'srv/src/' },
    { path: 'srv/src/a.txt', content: 'a\n' },
    { path: 'srv/src/b/' },
    { path: 'srv/src/b/c.txt', content: 'c\n' },
    { path: 'srv/src/d.txt', content: 'd\n' },
    { path: 'srv/dest/' },
    { path: 'srv/dest/keep.txt', content: 'keep\n' },
  ],
];

/** Every path below `dir` on the host, with file contents. */
async function hostListing(dir: string): Promise<string[]> {
  const rows: string[] = [];
  for (const e of (await fs.readdir(dir, { recursive: true, withFileTypes: true })).sort((x, y) =>
    path.join(x.parentPath, x.name).localeCompare(path.join(y.parentPath, y.name)),
  )) {
    const abs = path.join(e.parentPath, e.name);
    rows.push(`${path.relative(dir, abs)}${e.isFile() ? ` ${await fs.readFile(abs, 'utf8')}` : '/'}`);
  }
  return rows;
}

async function viewListing(view: Resolver, dir: string): Promise<string[]> {
  const rows: string[] = [];
  for await (const { path: p, stats } of view.walk(dir)) {
    rows.push(`${p.slice(dir.length + 1)}${stats.type === 'file' ? ` ${(await view.readFile(p)).toString()}` : '/'}`);
  }
  return rows;
}

/** Makes opening `name` for writing on the host fail with ENOSPC while `fn` runs. */
async function withFullDiskAt<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const open = fs.open;
  fs.open = (async (file: string, ...rest: unknown[]) => {
    if (String(file).endsWith(`/${name}`) && typeof rest[0] === 'number') throw fsError('ENOSPC', 'open', String(file));
    return (open as (...args: unknown[]) => Promise<fs.FileHandle>)(file, ...rest);
  }) as typeof fs.open;
  try {
    return await fn();
  } finally {
    fs.open = open;
  }
}

/** Makes the view refuse to write `name` (ENOSPC) while `fn` runs. */
async function withFullViewAt<T>(view: Resolver, name: string, fn: () => Promise<T>): Promise<T> {
  const writeFile = view.writeFile;
  view.writeFile = (p, ...rest) =>
    p.endsWith(`/${name}`) ? Promise.reject(fsError('ENOSPC', 'open', p)) : writeFile.call(view, p, ...rest);
  try {
    return await fn();
  } finally {
    view.writeFile = writeFile;
  }
}

async function hostSource(dir: string): Promise<string> {
  const src = path.join(dir, 'hostsrc');
  await fs.mkdir(path.join(src, 'b'), { recursive: true });
  await fs.writeFile(path.join(src, 'a.txt'), 'A\n');
  await fs.writeFile(path.join(src, 'b', 'c.txt'), 'C\n');
  await fs.writeFile(path.join(src, 'd.txt'), 'D\n');
  return src;
}

const setup = (t: ExecutionContext) => containerFromLayers(t, 'oci', LAYERS);

test.serial('a failed cp CONTAINER:DIR HOSTPATH removes the directory it was creating', async (t) => {
  const { view, dir } = await setup(t);
  const dest = path.join(dir, 'out');
  const err = await t.throwsAsync(withFullDiskAt('c.txt', () => copyFromView(view, '/srv/src', dest)));
  t.is((err as NodeJS.ErrnoException).code, 'ENOSPC');
  await t.throwsAsync(fs.lstat(dest), { code: 'ENOENT' });
});

test.serial('a failed cp CONTAINER:DIR/. HOSTDIR leaves the directory it merged into as it was', async (t) => {
  const { view, dir } = await setup(t);
  const dest = path.join(dir, 'existing');
  await fs.mkdir(path.join(dest, 'b'), { recursive: true });
  await fs.writeFile(path.join(dest, 'keep.txt'), 'mine\n');
  await fs.writeFile(path.join(dest, 'b', 'old.txt'), 'old\n');
  const before = await hostListing(dest);
  const err = await t.throwsAsync(withFullDiskAt('c.txt', () => copyFromView(view, '/srv/src/.', dest)));
  t.is((err as NodeJS.ErrnoException).code, 'ENOSPC');
  t.deepEqual(await hostListing(dest), before);
  t.deepEqual(before, ['b/', 'b/old.txt old\n', 'keep.txt mine\n']);
});

test.serial('a failed cp HOSTDIR CONTAINER:PATH removes what it created in the view', async (t) => {
  const { view, dir } = await setup(t);
  const src = await hostSource(dir);
  const err = await t.throwsAsync(withFullViewAt(view, 'c.txt', () => copyToView(view, src, '/srv/new')));
  t.is((err as NodeJS.ErrnoException).code, 'ENOSPC');
  t.false(await view.exists('/srv/new'));
  t.deepEqual(await view.readdir('/srv'), ['dest', 'src']);
});

test.serial('a failed cp HOSTDIR/. CONTAINER:DIR leaves the directory it merged into as it was', async (t) => {
  const { view, dir } = await setup(t);
  const src = await hostSource(dir);
  const err = await t.throwsAsync(withFullViewAt(view, 'c.txt', () => copyToView(view, `${src}/.`, '/srv/dest')));
  t.is((err as NodeJS.ErrnoException).code, 'ENOSPC');
  t.deepEqual(await viewListing(view, '/srv/dest'), ['keep.txt keep\n']);
});

test.serial('a failed cp - CONTAINER:DIR removes the entries it extracted before the bad one', async (t) => {
  const { view } = await setup(t);
  const tar = await makeTar([
    { name: 'x/', type: 'directory' },
    { name: 'x/one.txt', content: '1' },
    { name: 'two.txt', content: '2' },
    { name: '../escape.txt', content: 'bad' },
  ]);
  const err = await t.throwsAsync(extractToView(view, Readable.from([tar]), '/srv/dest'));
  t.is((err as NodeJS.ErrnoException).code, 'EINVALIDARCHIVE');
  t.deepEqual(await viewListing(view, '/srv/dest'), ['keep.txt keep\n']);
  t.false(await view.exists('/srv/escape.txt'));
});
