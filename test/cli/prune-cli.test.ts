import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { buildImage } from '../helpers/image-builder.js';
import { strata, repoRoot } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';

const demo = path.join(repoRoot, 'fixtures', 'demo.tar');
const question = 'Are you sure you want to continue? [y/N] ';

// docker/cli's warnings, word for word; strata has no networks or build cache to list.
const prompts: [string[], string][] = [
  [['container', 'prune'], 'WARNING! This will remove all stopped containers.\n'],
  [['image', 'prune'], 'WARNING! This will remove all dangling images.\n'],
  [['image', 'prune', '-a'], 'WARNING! This will remove all images without at least one container associated to them.\n'],
  [['volume', 'prune'], 'WARNING! This will remove anonymous local volumes not used by at least one container.\n'],
  [['volume', 'prune', '-a'], 'WARNING! This will remove all local volumes not used by at least one container.\n'],
  [['system', 'prune'], 'WARNING! This will remove:\n  - all stopped containers\n  - all dangling images\n\n'],
  [
    ['system', 'prune', '-a', '--volumes'],
    'WARNING! This will remove:\n  - all stopped containers\n  - all anonymous volumes not used by at least one container\n  - all images without at least one container associated to them\n\n',
  ],
];

for (const [args, warning] of prompts) {
  test(`${args.join(' ')} asks as docker does, and "n" removes nothing`, async (t) => {
    const { store } = await tmpStore(t);
    await strata(store.root, ['volume', 'create', 'keep']);
    const out = await strata(store.root, args, { stdin: Buffer.from('n\n') });
    t.deepEqual([out.code, out.stdout], [0, `${warning}${question}`]);
    t.is((await strata(store.root, ['volume', 'ls', '-q'])).stdout, 'keep\n');
  });
}

test('volume prune asks first, and "y" removes', async (t) => {
  const { store } = await tmpStore(t);
  await strata(store.root, ['volume', 'create', 'gone']);
  const out = await strata(store.root, ['volume', 'prune', '-a'], { stdin: Buffer.from('y\n') });
  t.is(
    out.stdout,
    `WARNING! This will remove all local volumes not used by at least one container.\n${question}Deleted Volumes:\ngone\n\nTotal reclaimed space: 0B\n`,
  );
});

test('system prune -f prints each section followed by a blank line, as Docker 20.10 did', async (t) => {
  const { store, dir } = await tmpStore(t);
  await strata(store.root, ['load', '-q', '-i', demo]);
  const a = (await strata(store.root, ['create', 'demo'])).stdout.trim();
  // Another image takes the tag: demo's image is dangling once its container is gone.
  const other = path.join(dir, 'other.tar');
  await fs.writeFile(other, await buildImage({ format: 'oci', repoTags: ['demo:latest'], layers: [[{ path: 'x', content: 'x' }]] }));
  await strata(store.root, ['load', '-q', '-i', other]);
  const out = await strata(store.root, ['system', 'prune', '-f']);
  // ../shared/conformance/docker/10-df-commit-prune.txt: `Deleted Containers:` … blank, `Deleted Images:` … blank, total.
  t.regex(
    out.stdout,
    new RegExp(
      `^Deleted Containers:\\n${a}\\n\\nDeleted Images:\\n(deleted: sha256:[0-9a-f]{64}\\n){3}\\nTotal reclaimed space: \\d+(\\.\\d+)?k?B\\n$`,
    ),
  );
});
