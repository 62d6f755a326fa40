import fs from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ImageConfig, LayerEntry } from './image-builder.js';

const run = promisify(execFile);

/** The static busybox of Debian's busybox-static: one file that is a whole userland for test images. */
export const BUSYBOX = '/bin/busybox';

/** Why images with a real userland cannot be built here, or null. */
export async function busyboxSkipReason(): Promise<string | null> {
  try {
    const { stdout } = await run('file', ['-L', BUSYBOX]);
    if (!/statically linked/.test(stdout)) return `${BUSYBOX} is not statically linked (install Debian's busybox-static; .ci/run does)`;
    return null;
  } catch {
    return `${BUSYBOX} is missing (install Debian's busybox-static; .ci/run does)`;
  }
}

/**
 * The layer of a tiny runnable image: /bin/busybox with a link per applet, and
 * /etc/passwd and /etc/group naming root, an `app` user (1000:1000, also in group
 * `staff` 50) and `nobody`. No /proc, /dev, /sys or /tmp: what a run needs of those
 * must come from strata, not the image.
 */
export async function busyboxLayer(): Promise<LayerEntry[]> {
  const { stdout } = await run(BUSYBOX, ['--list']);
  const applets = stdout.split('\n').filter((a) => a !== '' && a !== 'busybox');
  return [
    { path: 'bin/', mode: 0o755 },
    { path: 'bin/busybox', content: await fs.readFile(BUSYBOX), mode: 0o755 },
    ...applets.map((a): LayerEntry => ({ path: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { path: 'etc/', mode: 0o755 },
    {
      path: 'etc/passwd',
      content:
        'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    },
    { path: 'etc/group', content: 'root:x:0:\nstaff:x:50:app\napp:x:1000:\nnogroup:x:65534:\n' },
    { path: 'home/', mode: 0o755 },
    { path: 'home/app/', mode: 0o755, uid: 1000, gid: 1000 },
  ];
}

/** An image config that sets what a run must honour: Env, WorkingDir, User, Cmd. */
export function busyboxConfig(config: Record<string, unknown> = {}): Partial<ImageConfig> {
  return {
    config: {
      Env: ['PATH=/usr/local/bin:/bin', 'GREETING=hello world'],
      Cmd: ['sh'],
      ...config,
    },
  };
}
