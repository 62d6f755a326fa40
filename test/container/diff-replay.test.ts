import path from 'node:path';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { containerChanges } from '../../src/container/diff.js';
import type { Resolver } from '../../src/resolver/resolver.js';
import type { WhiteoutFormat } from '../../src/store/whiteout-probe.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import { readDockerRecord } from '../helpers/docker-record.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { overlayFormatSkipReason } from '../helpers/both-formats.js';

// ../shared/conformance/docker/06-diff-copyup.txt: the same changes made in a real
// Docker container of lab/features:1.0, and what `docker diff` printed after each.
// strata must print the same set (it sorts by path; docker prints walk order).
const steps: [string, (fs: Resolver) => Promise<void>][] = [
  ['modify a lower file', (fs) => fs.writeFile('/srv/data/modify.txt', 'changed\n')],
  ['create a new file', (fs) => fs.writeFile('/srv/new-file.txt', 'brand-new\n')],
  ['delete a lower file', (fs) => fs.unlink('/srv/data/keep.txt')],
  ['delete a lower dir with a subdir', (fs) => fs.rm('/srv/copied', { recursive: true })],
  [
    'create a dir',
    async (fs) => {
      await fs.mkdir('/srv/newdir/sub', { recursive: true });
    },
  ],
  [
    'delete a lower dir and re-create it',
    async (fs) => {
      await fs.rm('/srv/unicode', { recursive: true });
      await fs.mkdir('/srv/unicode');
      await fs.writeFile('/srv/unicode/fresh.txt', 'fresh\n');
    },
  ],
  [
    'chmod only, delete a lower hardlink name, rename a lower file',
    async (fs) => {
      await fs.chmod('/srv/data/append.txt', 0o600);
      await fs.unlink('/srv/links/hl-orig.txt');
      await fs.rename('/srv/data/renamed.txt', '/srv/data/renamed-again.txt');
    },
  ],
];

const skip = sharedSkipReason();
const formats: WhiteoutFormat[] = ['oci', 'overlay'];

for (const format of formats) {
  testUnless(firstReason(skip, format === 'overlay' ? overlayFormatSkipReason : null))(
    `diff after each change equals docker diff (${format} store)`,
    async (t) => {
      const recorded = readDockerRecord('06-diff-copyup.txt').filter((c) => c.command === 'docker diff myapp');
      const { store } = await tmpStore(t, { whiteoutFormat: format });
      await loadImages(store, { path: path.join(conformanceImages, 'dk-features.docker.tar') });
      const record = await createContainer(store, 'lab/features:1.0', { name: 'myapp' });
      const view = await containerView(store, record);
      t.deepEqual(await containerChanges(store, record), [], 'a fresh container has no changes');
      for (const [i, [what, apply]] of steps.entries()) {
        await apply(view);
        const ours = (await containerChanges(store, record)).map((c) => `${c.kind} ${c.path}`);
        const docker = recorded[i + 1]!.output.filter((l) => l !== '').sort(byPath);
        t.deepEqual(ours, docker, `after step ${i + 1}: ${what}`);
      }
    },
  );
}

function byPath(a: string, b: string): number {
  const pa = a.slice(2);
  const pb = b.slice(2);
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}
