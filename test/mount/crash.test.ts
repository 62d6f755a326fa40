import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { strata } from '../helpers/cli.js';
import { buildImage } from '../helpers/image-builder.js';
import { testUnless } from '../helpers/skip.js';
import { assertRepairable, killAt, spreadKillPoints, traceOperation, type KillPoint } from '../helpers/crash.js';
import { openStore } from '../../src/store/root.js';
import { readHolds } from '../../src/mount/holds.js';
import { runDir } from '../../src/mount/run-dir.js';
import { kernelMountSkipReason, mountsUnder, unmountAllOnTeardown } from '../helpers/mounts.js';
import { removeTree } from '../../src/store/atomic.js';

/**
 * SIGKILL at every fault point that mount, umount, umount -f and rm -f pass, and at
 * three moments between them: check then reports only what --repair fixes, and once
 * the interrupted command has run again (for mount: after the repair alone, unless
 * the kill came after the mount was complete) nothing is left in mountinfo.
 */
const withKernel = testUnless(await kernelMountSkipReason());
const TIMED_KILLS = 3;

interface Case {
  title: string;
  /** `strata mount c1` this many times first. */
  mountedBefore: number;
  args: string[];
  /** What finishes the job after the repair; null: the repair alone must leave nothing mounted. */
  again: string[] | null;
}

const CASES: Case[] = [
  { title: 'mount', mountedBefore: 0, args: ['mount', 'c1'], again: null },
  { title: 'umount', mountedBefore: 1, args: ['umount', 'c1'], again: ['umount', 'c1'] },
  { title: 'umount -f', mountedBefore: 2, args: ['umount', '-f', 'c1'], again: ['umount', '-f', 'c1'] },
  { title: 'rm -f', mountedBefore: 1, args: ['rm', '-f', 'c1'], again: ['rm', '-f', 'c1'] },
];

async function fixture(t: ExecutionContext, image: Buffer, mountedBefore: number): Promise<{ dir: string; root: string }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'strata-mount-crash-'));
  t.teardown(() => removeTree(dir));
  unmountAllOnTeardown(t, dir);
  const root = path.join(dir, 'store');
  await fsp.mkdir(root);
  await fsp.writeFile(path.join(dir, 'app.tar'), image);
  const s = (args: string[]) => strata(root, args);
  if ((await s(['load', '-i', path.join(dir, 'app.tar')])).code !== 0) throw new Error('load failed');
  if ((await s(['create', '--name', 'c1', 'app:1'])).code !== 0) throw new Error('create failed');
  for (let i = 0; i < mountedBefore; i++) if ((await s(['mount', 'c1'])).code !== 0) throw new Error('mount failed');
  return { dir, root };
}

for (const c of CASES) {
  withKernel.serial(`SIGKILL anywhere in ${c.title}: check --repair fixes all, and nothing stays mounted`, async (t) => {
    const image = await buildImage({
      format: 'oci',
      repoTags: ['app:1'],
      layers: [[{ path: 'f', content: 'f' }], [{ path: 'g', content: 'g' }]],
    });
    const traced = await fixture(t, image, c.mountedBefore);
    const trace = await traceOperation(traced.root, c.args);
    t.is(trace.code, 0, trace.stderr);
    t.log(`${trace.hits} fault points: ${trace.names.join(' ')}`);
    // Frozen at every fault point (hit 1 is cli.start), then at times spread over the run: mid-mount(8) too.
    const kills: KillPoint[] = [
      ...Array.from({ length: trace.hits - 1 }, (_, i) => ({ hit: i + 2 })),
      ...spreadKillPoints({ ...trace, hits: 0 }, TIMED_KILLS),
    ];
    for (const point of kills) {
      const { dir, root } = await fixture(t, image, c.mountedBefore);
      const where = `${c.title} killed ${'hit' in point ? `at ${trace.names[point.hit - 1]} (#${point.hit})` : `${point.afterMs} ms in`}`;
      const killed = await killAt(root, c.args, point);
      if ('hit' in point) t.true(killed.killed, `${where}: not killed`);
      await assertRepairable(t, root, where);
      if (c.again === null && mountsUnder(dir).length > 0) {
        // Killed after the mount was made and handed to the user: that mount is done and held once.
        t.false('hit' in point, `${where}: a mount survived the repair`);
        const store = await openStore({ root });
        const id = (await strata(root, ['inspect', '-f', '{{.Id}}', 'c1'])).stdout.trim();
        t.deepEqual(readHolds(runDir(store), id), { count: 1, processes: [] }, `${where}: held`);
        t.is((await strata(root, ['umount', 'c1'])).code, 0);
      }
      if (c.again !== null) {
        const again = await strata(root, c.again);
        t.true(again.code === 0 || again.stderr === 'strata: No such container: c1\n', `${where}: ${again.stderr}`);
      }
      t.deepEqual(mountsUnder(dir), [], `${where}: still mounted`);
      const checked = await strata(root, ['check']);
      t.is(checked.code, 0, `${where}: ${checked.stdout}`);
    }
  });
}
