/**
 * An image with the layers of dive's own test image (`.data/test-docker-image.tar` in
 * wagoodman/dive, built from its `.data/Dockerfile.test-image`), rebuilt with the image
 * builder: every path, kind and size of every layer's tar entries is dive's, entry for
 * entry, except that busybox's 392 hardlinks to its binary are represented by the few
 * names the Dockerfile runs (they weigh 0 in every figure) and the bytes are seeded,
 * not busybox's and dive's README. Every figure dive computes depends only on paths,
 * kinds and sizes, so dive's published results for that image hold for this one.
 */
import type { LayerSpec } from './image-builder.js';

/** The file `ADD README.md /somefile.txt` copies around: 6,405 bytes, the same in every copy. */
const SOMEFILE = { size: 6405, seed: 'dive-readme' };

const root = { path: 'root/', type: 'dir', mode: 0o700 } as const;
const example = { path: 'root/example/', type: 'dir' } as const;
const run = (command: string) => `/bin/sh -c ${command}`;

const busybox: LayerSpec = {
  createdBy: '/bin/sh -c #(nop) ADD file:ce026b62356eec3ad1214f92be2c9dc063fe205bd5e600be3492c4dfb17148bd in / ',
  entries: [
    { path: 'bin/', type: 'dir' },
    { path: 'bin/[', size: 1_075_464, seed: 'busybox', mode: 0o755 },
    ...['busybox', 'chmod', 'cp', 'mkdir', 'mv', 'rm', 'sh'].map((name) => ({
      path: `bin/${name}`,
      type: 'hardlink' as const,
      linkname: 'bin/[',
    })),
    { path: 'bin/getconf', size: 77_880, seed: 'getconf', mode: 0o755 },
    { path: 'dev/', type: 'dir' },
    { path: 'etc/', type: 'dir' },
    { path: 'etc/group', size: 307, seed: 'group', mode: 0o664 },
    { path: 'etc/localtime', size: 127, seed: 'localtime' },
    { path: 'etc/network/', type: 'dir' },
    { path: 'etc/network/if-down.d/', type: 'dir' },
    { path: 'etc/network/if-post-down.d/', type: 'dir' },
    { path: 'etc/network/if-pre-up.d/', type: 'dir' },
    { path: 'etc/network/if-up.d/', type: 'dir' },
    { path: 'etc/passwd', size: 340, seed: 'passwd' },
    { path: 'etc/shadow', size: 243, seed: 'shadow', mode: 0o600 },
    { path: 'home/', type: 'dir', uid: 65534, gid: 65534 },
    root,
    { path: 'tmp/', type: 'dir', mode: 0o1777 },
    { path: 'usr/', type: 'dir' },
    { path: 'usr/sbin/', type: 'dir', uid: 1, gid: 1 },
    { path: 'var/', type: 'dir' },
    { path: 'var/spool/', type: 'dir' },
    { path: 'var/spool/mail/', type: 'dir', uid: 8, gid: 8 },
    { path: 'var/www/', type: 'dir' },
  ],
};

/** Bottom first, one per layer dive's image has (its `CMD ["sh"]` makes none). */
export const diveTestLayers: LayerSpec[] = [
  busybox,
  {
    createdBy: '/bin/sh -c #(nop) ADD file:139c3708fb6261126453e34483abd8bf7b26ed16d952fd976994d68e72d93be2 in /somefile.txt ',
    entries: [{ path: 'somefile.txt', ...SOMEFILE, mode: 0o664 }],
  },
  {
    createdBy: run('mkdir -p /root/example/really/nested'),
    entries: [root, example, { path: 'root/example/really/', type: 'dir' }, { path: 'root/example/really/nested/', type: 'dir' }],
  },
  {
    createdBy: run('cp /somefile.txt /root/example/somefile1.txt'),
    entries: [root, example, { path: 'root/example/somefile1.txt', ...SOMEFILE }],
  },
  {
    createdBy: run('chmod 444 /root/example/somefile1.txt'),
    entries: [root, example, { path: 'root/example/somefile1.txt', ...SOMEFILE, mode: 0o444 }],
  },
  {
    createdBy: run('cp /somefile.txt /root/example/somefile2.txt'),
    entries: [root, example, { path: 'root/example/somefile2.txt', ...SOMEFILE }],
  },
  {
    createdBy: run('cp /somefile.txt /root/example/somefile3.txt'),
    entries: [root, example, { path: 'root/example/somefile3.txt', ...SOMEFILE }],
  },
  {
    createdBy: run('mv /root/example/somefile3.txt /root/saved.txt'),
    entries: [root, example, { path: 'root/example/somefile3.txt', type: 'whiteout' }, { path: 'root/saved.txt', ...SOMEFILE }],
  },
  { createdBy: run('cp /root/saved.txt /root/.saved.txt'), entries: [root, { path: 'root/.saved.txt', ...SOMEFILE }] },
  { createdBy: run('rm -rf /root/example/'), entries: [root, { path: 'root/example', type: 'whiteout' }] },
  {
    createdBy: '/bin/sh -c #(nop) ADD dir:7ec14b81316baa1a31c38c97686a8f030c98cba2035c968412749e33e0c4427e in /root/.data/ ',
    entries: [
      root,
      { path: 'root/.data/', type: 'dir' },
      { path: 'root/.data/tag.sh', size: 917, seed: 'tag.sh', mode: 0o775 },
      { path: 'root/.data/test.sh', size: 1270, seed: 'test.sh', mode: 0o755 },
    ],
  },
  {
    createdBy: run('cp /root/saved.txt /tmp/saved.again1.txt'),
    entries: [
      { path: 'tmp/', type: 'dir', mode: 0o1777 },
      { path: 'tmp/saved.again1.txt', ...SOMEFILE },
    ],
  },
  {
    createdBy: run('cp /root/saved.txt /root/.data/saved.again2.txt'),
    entries: [root, { path: 'root/.data/', type: 'dir' }, { path: 'root/.data/saved.again2.txt', ...SOMEFILE }],
  },
  { createdBy: run('chmod +x /root/saved.txt'), entries: [root, { path: 'root/saved.txt', ...SOMEFILE, mode: 0o755 }] },
];
