import { containerFromLayers } from '../helpers/container-fixture.js';
import { bothFormats } from '../helpers/both-formats.js';
import type { LayerInput } from '../helpers/image-builder.js';
import { containerChanges } from '../../src/container/diff.js';
import { moveInView } from '../../src/container/copy.js';
import type { ContainerFixture } from '../helpers/container-fixture.js';

// Docker's overlay2 lists changes with the naive diff (moby#37313): the container's
// merged tree against the image's, by stat. What was copied up without a visible
// change is no change, though it sits in the upper dir.
const LOWER_MTIME = 1_600_000_000;
const LAYERS: LayerInput[] = [
  [
    { path: 'srv/', mtime: LOWER_MTIME },
    { path: 'srv/data/', mode: 0o750, mtime: LOWER_MTIME },
    { path: 'srv/data/file.txt', content: 'file\n', mode: 0o640, uid: 1000, gid: 1000, mtime: LOWER_MTIME },
    { path: 'srv/tree/', mode: 0o755, mtime: LOWER_MTIME },
    { path: 'srv/tree/a.txt', content: 'alpha\n', mtime: LOWER_MTIME },
    { path: 'srv/tree/sub/', mode: 0o700, mtime: LOWER_MTIME },
    { path: 'srv/tree/sub/b.txt', content: 'bravo\n', mode: 0o600, mtime: LOWER_MTIME },
  ],
];

async function changes({ store, record }: ContainerFixture): Promise<string[]> {
  return (await containerChanges(store, record)).map((c) => `${c.kind} ${c.path}`);
}

bothFormats('diff leaves out a file and a directory chmod-ed to the mode they had', async (t, format) => {
  const fixture = await containerFromLayers(t, format, LAYERS);
  await fixture.view.chmod('/srv/data/file.txt', 0o640);
  await fixture.view.chmod('/srv/tree', 0o755);
  t.is((await fixture.view.lstat('/srv/data/file.txt')).layer, 'upper', 'the chmod copied the file up');
  t.deepEqual(await changes(fixture), []);
  await fixture.view.chmod('/srv/data/file.txt', 0o600);
  t.deepEqual(await changes(fixture), ['C /srv', 'C /srv/data', 'C /srv/data/file.txt']);
});

bothFormats('diff lists a hard link to a lower file as added, and not the file it copied up', async (t, format) => {
  const fixture = await containerFromLayers(t, format, LAYERS);
  await fixture.view.link('/srv/data/file.txt', '/srv/data/hard.txt');
  t.is((await fixture.view.lstat('/srv/data/file.txt')).layer, 'upper');
  t.deepEqual(await changes(fixture), ['C /srv', 'C /srv/data', 'A /srv/data/hard.txt']);
});

bothFormats('diff leaves out a lower directory moved away and back', async (t, format) => {
  const fixture = await containerFromLayers(t, format, LAYERS);
  await moveInView(fixture.view, '/srv/tree', '/srv/moved');
  t.deepEqual(await changes(fixture), [
    'C /srv',
    'A /srv/moved',
    'A /srv/moved/a.txt',
    'A /srv/moved/sub',
    'A /srv/moved/sub/b.txt',
    'D /srv/tree',
  ]);
  await moveInView(fixture.view, '/srv/moved', '/srv/tree');
  t.is((await fixture.view.lstat('/srv/tree/sub/b.txt')).layer, 'upper', 'the tree is a copy in the upper dir');
  t.deepEqual(await changes(fixture), []);
  // A file of the copy whose content changed (size and mtime) is listed again.
  await fixture.view.appendFile('/srv/tree/sub/b.txt', 'more\n');
  t.deepEqual(await changes(fixture), ['C /srv', 'C /srv/tree', 'C /srv/tree/sub', 'C /srv/tree/sub/b.txt']);
});

bothFormats('diff lists a copied-up file whose mtime alone changed', async (t, format) => {
  const fixture = await containerFromLayers(t, format, LAYERS);
  await fixture.view.utimes('/srv/tree/a.txt', LOWER_MTIME, LOWER_MTIME);
  t.deepEqual(await changes(fixture), [], 'the same time is no change');
  await fixture.view.utimes('/srv/tree/a.txt', LOWER_MTIME + 1, LOWER_MTIME + 1);
  t.deepEqual(await changes(fixture), ['C /srv', 'C /srv/tree', 'C /srv/tree/a.txt']);
});
