import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { Resolver, formatTreeTsv, listTree } from '../../src/resolver/index.js';
import { testUnless } from '../helpers/skip.js';
import { buildLayer, d, f, ln, wh } from './suite.js';

const run = promisify(execFile);

async function tree(t: { teardown(fn: () => Promise<void>): void }) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-tree-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  const dir = path.join(root, 'rootfs');
  await buildLayer(
    dir,
    [
      f('/bin/tool', 'abc', 0o4755),
      f('/empty', '', 0o600),
      d('/private', 0o700),
      ln('/bin/sh', 'tool'),
      f('/a.b', 'dot sorts before slash'),
      f('/a/b', 'x'),
      f('/café', 'é'),
      f('/big', 'z'.repeat(3 << 20)),
    ],
    'oci',
  );
  await run('mkfifo', ['-m', '0644', path.join(dir, 'pipe')]);
  return { dir, plain: new Resolver({ lowerDirs: [], format: 'oci', mounts: [{ path: '/', source: dir, readOnly: true }] }) };
}

test("listTree prints list_tree.py's TSV: sorted paths, octal modes, sizes and hashes of files only", async (t) => {
  const { plain } = await tree(t);
  const tsv = formatTreeTsv(await listTree(plain));
  t.is(
    tsv,
    [
      'path\ttype\tmode\tsize\tsha256\tlink',
      '/a\tdir\t0755\t\t\t',
      `/a.b\tfile\t0644\t22\t${sha256('dot sorts before slash')}\t`,
      `/a/b\tfile\t0644\t1\t${sha256('x')}\t`,
      `/big\tfile\t0644\t3145728\t${sha256('z'.repeat(3 << 20))}\t`,
      '/bin\tdir\t0755\t\t\t',
      '/bin/sh\tsymlink\t0777\t\t\ttool',
      `/bin/tool\tfile\t4755\t3\t${sha256('abc')}\t`,
      `/café\tfile\t0644\t2\t${sha256('é')}\t`,
      `/empty\tfile\t0600\t0\t${sha256('')}\t`,
      '/pipe\tfifo\t0644\t\t\t',
      '/private\tdir\t0700\t\t\t',
      '',
    ].join('\n'),
  );
});

test('listTree of a merged view lists what the container sees, below any root', async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-tree-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  await buildLayer(path.join(root, 'top'), [wh('/etc/old'), f('/etc/new', 'n')], 'oci');
  await buildLayer(path.join(root, 'base'), [f('/etc/old', 'o'), f('/etc/keep', 'k'), d('/var')], 'oci');
  const r = new Resolver({ lowerDirs: [path.join(root, 'top'), path.join(root, 'base')], format: 'oci' });
  t.deepEqual(
    (await listTree(r, '/etc')).map((row) => row.path),
    ['/keep', '/new'],
  );
  t.deepEqual(
    (await listTree(r)).map((row) => row.path),
    ['/etc', '/etc/keep', '/etc/new', '/var'],
  );
});

const listTreeScript = process.env.STRATA_LIST_TREE;

testUnless(listTreeScript === undefined ? 'set STRATA_LIST_TREE to conformance/list_tree.py to compare with it' : null)(
  'formatTreeTsv matches list_tree.py byte for byte (STRATA_LIST_TREE=path/to/list_tree.py)',
  async (t) => {
    const script = listTreeScript!;
    const { dir, plain } = await tree(t);
    const { stdout } = await run('python3', [script, dir], { maxBuffer: 1 << 24 });
    t.is(formatTreeTsv(await listTree(plain)), stdout);
  },
);

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
