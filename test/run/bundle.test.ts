import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer, type CreateOptions } from '../../src/container/create.js';
import { resolveUser, rootView } from '../../src/run/bundle.js';
import { runtimeSpec } from '../../src/run/runtime-spec.js';
import { isStrataError } from '../../src/errors.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { writeImage } from '../helpers/image-builder.js';
import { busyboxConfig, busyboxLayer, busyboxSkipReason } from '../helpers/busybox-image.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { commandSkipReason } from '../helpers/tools.js';

const run = promisify(execFile);

const skip = firstReason(
  await busyboxSkipReason(),
  await commandSkipReason('umoci', ['--version'], 'umoci is not installed (Debian package umoci; .ci/run installs it)'),
  process.getuid?.() === 0 ? null : 'umoci unpacks with the image owners only as root',
);
const maybe = testUnless(skip);

interface Process {
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids?: number[] };
}

/** The process strata's bundle would run and the one `umoci unpack` writes for the same OCI image and user. */
async function bothProcesses(
  t: import('ava').ExecutionContext,
  imageConfig: Record<string, unknown>,
  options: CreateOptions = {},
): Promise<{ ours: Process; umoci: Process }> {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: 'overlay' });
  const archive = path.join(dir, 'image.oci.tar');
  await writeImage(archive, { format: 'oci', repoTags: ['bb:1'], layers: [await busyboxLayer()], config: busyboxConfig(imageConfig) });
  await loadImages(store, { path: archive });
  const record = await createContainer(store, 'bb:1', options);
  const view = await rootView(store, record);
  const user = await resolveUser(view, record.config?.user ?? '');
  const spec = runtimeSpec({
    record,
    user,
    rootfs: '/rootfs',
    args: record.command,
    terminal: false,
    etcFiles: { '/etc/hostname': '/h', '/etc/hosts': '/hs', '/etc/resolv.conf': '/r' },
    mountSource: () => '/src',
  });

  const layout = path.join(dir, 'layout');
  await fs.mkdir(layout);
  await run('tar', ['-xf', archive, '-C', layout]);
  const index = JSON.parse(await fs.readFile(path.join(layout, 'index.json'), 'utf8')) as {
    manifests: { annotations?: Record<string, string> }[];
  };
  const refName = index.manifests[0]?.annotations?.['org.opencontainers.image.ref.name'];
  t.truthy(refName, 'the OCI layout names its image');
  const bundle = path.join(dir, 'umoci-bundle');
  await run('umoci', ['unpack', '--image', `${layout}:${refName}`, bundle]);
  const umoci = JSON.parse(await fs.readFile(path.join(bundle, 'config.json'), 'utf8')) as { process: Process };
  return { ours: spec.process as Process, umoci: umoci.process };
}

/**
 * The two lists with what each adds on its own terms taken out: Docker's HOSTNAME,
 * the TERM umoci sets for its default terminal, and a HOME=/ for a uid that /etc/passwd
 * lacks, which runc would set at exec and umoci leaves to it. Everything else is equal.
 */
function comparable(ours: Process, umoci: Process): [string[], string[]] {
  const own = ours.env.filter((e) => !e.startsWith('HOSTNAME=') && (e !== 'HOME=/' || umoci.env.includes(e)));
  return [own.sort(), umoci.env.filter((e) => !e.startsWith('TERM=')).sort()];
}

maybe('the bundle runs what umoci unpack would: args, env, cwd and a user resolved through the image /etc/passwd', async (t) => {
  const { ours, umoci } = await bothProcesses(t, {
    User: 'app',
    WorkingDir: '/home/app',
    Entrypoint: ['/bin/echo', 'from'],
    Cmd: ['image'],
  });
  t.deepEqual(ours.args, umoci.args);
  t.deepEqual(ours.args, ['/bin/echo', 'from', 'image']);
  t.deepEqual(...comparable(ours, umoci));
  t.true(ours.env.includes('HOME=/home/app'));
  t.is(ours.cwd, umoci.cwd);
  t.is(ours.cwd, '/home/app');
  // umoci lists only the supplementary groups; Docker puts the primary group first.
  t.deepEqual(ours.user, { ...umoci.user, additionalGids: [1000, ...(umoci.user.additionalGids ?? [])] });
  t.deepEqual(ours.user, { uid: 1000, gid: 1000, additionalGids: [1000, 50] });
});

maybe('a numeric user and group are taken as they are, as umoci takes them', async (t) => {
  const { ours, umoci } = await bothProcesses(t, { User: '4242:77' });
  t.deepEqual(ours.user, { ...umoci.user, additionalGids: [77] });
  t.deepEqual(ours.user, { uid: 4242, gid: 77, additionalGids: [77] });
  t.deepEqual(...comparable(ours, umoci));
  t.true(ours.env.includes('HOME=/'));
  t.is(ours.cwd, '/');
});

maybe('an image without a user runs as root, with the default PATH only where the image sets none', async (t) => {
  const { ours, umoci } = await bothProcesses(t, { Env: ['A=1'] });
  t.deepEqual(ours.user, { ...umoci.user, additionalGids: [0] });
  // Docker's root process is in group 0 (busybox id: groups=0(root)); umoci leaves the list out.
  t.deepEqual(ours.user, { uid: 0, gid: 0, additionalGids: [0] });
  t.true(ours.env.includes('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'));
  t.deepEqual(ours.args, umoci.args);
});

maybe('-u with a name the image does not know fails with Docker words', async (t) => {
  const { store, dir } = await tmpStore(t, { whiteoutFormat: 'overlay' });
  const archive = path.join(dir, 'image.oci.tar');
  await writeImage(archive, { format: 'oci', repoTags: ['bb:1'], layers: [await busyboxLayer()], config: busyboxConfig() });
  await loadImages(store, { path: archive });
  const record = await createContainer(store, 'bb:1', { user: 'ghost' });
  const err = await t.throwsAsync(resolveUser(await rootView(store, record), record.config?.user ?? ''));
  t.true(isStrataError(err));
  t.is(err?.message, 'unable to find user ghost: no matching entries in passwd file');
  const group = await t.throwsAsync(resolveUser(await rootView(store, record), 'app:ghosts'));
  t.is(group?.message, 'unable to find group ghosts: no matching entries in group file');
});
