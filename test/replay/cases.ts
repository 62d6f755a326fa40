/**
 * The file-level cases of containerd's snapshotter test suite
 * (core/snapshots/testsuite/testsuite.go and issues.go) and continuity's FSSuite
 * sequences (fs/fstest/testsuite.go), as data for test/helpers/replay.ts. Ops, paths,
 * contents and modes are theirs; where strata's mapping differs it says so beside the case.
 */
import { Chmod, Chown, CreateDir, CreateFile, Link, Mknod, Remove, RemoveAll, Rename, Symlink, type Op } from '../helpers/fs-ops.js';
import type { ReplayCase } from '../helpers/replay.js';

// ---- containerd core/snapshots/testsuite ------------------------------------------

const basic: ReplayCase = {
  name: 'containerd Basic',
  layers: [
    [CreateFile('/foo', 'foo\n', 0o777), CreateDir('/a', 0o755), CreateDir('/a/b', 0o755), CreateDir('/a/b/c', 0o755)],
    [CreateFile('/bar', 'bar\n', 0o777), CreateFile('/foo', 'bar\n', 0o777), RemoveAll('/a/b')],
  ],
};

const transitivity: ReplayCase = {
  name: 'containerd TransitivityTest',
  layers: [[CreateFile('/foo', 'foo\n', 0o644)], [CreateFile('/foo', 'foo bar\n', 0o644)]],
};

/** docker#21555: a same-size rewrite and a chmod-only change within one second. containerd repeats it 5 times. */
export const layerFileUpdate: ReplayCase = {
  name: 'containerd LayerFileupdate',
  layers: [
    [CreateDir('/etc', 0o700), CreateFile('/etc/hosts', 'mydomain 10.0.0.1', 0o644), CreateFile('/etc/profile', 'PATH=/usr/bin', 0o644)],
    [
      CreateFile('/etc/hosts', 'mydomain 10.0.0.2', 0o644),
      CreateFile('/etc/profile', 'PATH=/usr/bin', 0o666),
      CreateDir('/root', 0o700),
      CreateFile('/root/.bashrc', 'PATH=/usr/sbin:/usr/bin', 0o644),
    ],
  ],
};

/** docker#25244: /lib/hidden must never come back. */
const removeDirectoryInLowerLayer: ReplayCase = {
  name: 'containerd RemoveDirectoryInLowerLayer',
  layers: [
    [CreateDir('/lib', 0o700), CreateFile('/lib/hidden', '', 0o644)],
    [RemoveAll('/lib'), CreateDir('/lib', 0o700), CreateFile('/lib/not-hidden', '', 0o644)],
    [CreateFile('/lib/newfile', '', 0o644)],
  ],
};

/** docker#20240, #24913, #28391: ownership-only changes of directories and a file. */
const chown: ReplayCase = {
  name: 'containerd Chown',
  layers: [
    [CreateDir('/opt', 0o700), CreateDir('/opt/a', 0o700), CreateDir('/opt/a/b', 0o700), CreateFile('/opt/a/b/file.txt', 'hello', 0o644)],
    [Chown('/opt', 1, 1), Chown('/opt/a', 1, 1), Chown('/opt/a/b', 1, 1), Chown('/opt/a/b/file.txt', 1, 1)],
  ],
};

/** docker#27298. */
const directoryPermissionOnCommit: ReplayCase = {
  name: 'containerd DirectoryPermissionOnCommit',
  layers: [
    [
      CreateDir('/dir1', 0o700),
      CreateDir('/dir2', 0o700),
      CreateDir('/dir3', 0o700),
      CreateDir('/dir4', 0o700),
      CreateFile('/dir4/f1', '...', 0o644),
      CreateDir('/dir5', 0o700),
      CreateFile('/dir5/f1', '...', 0o644),
      Chown('/dir1', 1, 1),
      Chown('/dir2', 1, 1),
      Chown('/dir3', 1, 1),
      Chown('/dir5', 1, 1),
      Chown('/dir5/f1', 1, 1),
    ],
    [Chown('/dir2', 0, 0), RemoveAll('/dir3'), Chown('/dir4', 1, 1), Chown('/dir4/f1', 1, 1)],
    [CreateDir('/dir3', 0o700), Chown('/dir3', 1, 1), RemoveAll('/dir5'), CreateDir('/dir5', 0o700), Chown('/dir5', 1, 1)],
  ],
};

/** The third layer changes nothing: the whiteout of /foobar must stay in its commit. */
const deletedFilesInChildSnapshot: ReplayCase = {
  name: 'containerd DeletedFilesInChildSnapshot',
  layers: [[CreateFile('/foo', 'foo\n', 0o777), CreateFile('/foobar', 'foobar\n', 0o777)], [RemoveAll('/foobar')], []],
};

/** A hardlink to a lower file, then the original removed: the layer must carry the data under dir3/f2. */
const moveFileFromLowerLayer: ReplayCase = {
  name: 'containerd MoveFileFromLowerLayer',
  layers: [
    [CreateDir('/dir1', 0o700), CreateFile('/dir1/f1', 'Hello', 0o644), CreateDir('dir2', 0o700), CreateFile('dir2/f2', '...', 0o644)],
    [
      CreateDir('/dir3', 0o700),
      CreateFile('/dir3/f1', 'Hello', 0o644),
      RemoveAll('/dir1'),
      Link('dir2/f2', 'dir3/f2'),
      RemoveAll('dir2/f2'),
    ],
  ],
};

/**
 * docker#25409. containerd leaves out `Rename /dir1 /dir2` for overlayfs (a lower
 * directory cannot move without redirect_dir); here it stays in, fails EXDEV in the
 * container like the kernel, and is done as `mv` then does it.
 */
const rename: ReplayCase = {
  name: 'containerd Rename',
  layers: [
    [
      CreateDir('/dir1', 0o700),
      CreateDir('/somefiles', 0o700),
      CreateFile('/somefiles/f1', 'was here first!', 0o644),
      CreateFile('/somefiles/f2', 'nothing interesting', 0o644),
    ],
    [
      Rename('/dir1', '/dir2'),
      CreateFile('/somefiles/f1-overwrite', 'new content 1', 0o644),
      Rename('/somefiles/f1-overwrite', '/somefiles/f1'),
      Rename('/somefiles/f2', '/somefiles/f3'),
    ],
  ],
  exdev: ['/dir1'],
};

/** 128 layers, /onlyme re-created (opaque) in every one. */
export const layers128: ReplayCase = {
  name: 'containerd 128LayersMount',
  layers: [
    [
      CreateFile('/bottom', 'way at the bottom\n', 0o777),
      CreateFile('/overwriteme', 'FIRST!\n', 0o777),
      CreateDir('/addhere', 0o755),
      CreateDir('/onlyme', 0o755),
      CreateFile('/onlyme/bottom', 'bye!\n', 0o777),
    ],
    ...Array.from({ length: 127 }, (_, n): Op[] => [
      CreateFile('/overwriteme', `${n + 1} WAS HERE!\n`, 0o777),
      CreateFile(`/addhere/file-${n + 1}`, 'same\n', 0o755),
      RemoveAll('/onlyme'),
      CreateDir('/onlyme', 0o755),
      CreateFile(`/onlyme/file-${n + 1}`, 'only me!\n', 0o777),
    ]),
  ],
};

export const SNAPSHOTTER_CASES: ReplayCase[] = [
  basic,
  transitivity,
  removeDirectoryInLowerLayer,
  chown,
  directoryPermissionOnCommit,
  deletedFilesInChildSnapshot,
  moveFileFromLowerLayer,
  rename,
];

// ---- continuity fs/fstest FSSuite --------------------------------------------------

const base: Op[] = [
  CreateDir('/etc/', 0o755),
  CreateFile('/etc/hosts', '127.0.0.1 localhost', 0o644),
  Link('/etc/hosts', '/etc/hosts.allow'),
  CreateDir('/usr/local/lib', 0o755),
  CreateFile('/usr/local/lib/libnothing.so', '\x00\x00', 0o755),
  Symlink('libnothing.so', '/usr/local/lib/libnothing.so.2'),
  CreateDir('/home', 0o755),
  CreateDir('/home/derek', 0o700),
];

/**
 * continuity computes each step's diff between two flat directories, where rewriting
 * /etc/hosts rewrites /etc/hosts.allow too. In a container /etc/hosts is copied up
 * first and /etc/hosts.allow keeps the old bytes (overlayfs without index=on, and
 * strata's resolver); the flat side does the same copy (fs-ops.ts `lowerInodes`).
 */
const rewriteHosts = CreateFile('/etc/hosts', '127.0.0.1 localhost.localdomain', 0o644);

export const FSSUITE_CASES: ReplayCase[] = [
  {
    name: 'continuity Basic',
    layers: [
      base,
      [
        rewriteHosts,
        CreateFile('/etc/fstab', '/dev/sda1\t/\text4\tdefaults 1 1\n', 0o600),
        CreateFile('/etc/badfile', '', 0o666),
        CreateFile('/home/derek/.zshrc', '#ZSH is just better\n', 0o640),
      ],
      [Remove('/etc/badfile'), Rename('/home/derek', '/home/notderek')],
      [RemoveAll('/usr'), Remove('/etc/hosts.allow')],
      [
        RemoveAll('/home'),
        CreateDir('/home/derek', 0o700),
        CreateFile('/home/derek/.bashrc', '#not going away\n', 0o640),
        Link('/etc/hosts', '/etc/hosts.allow'),
      ],
    ],
    exdev: ['/home/derek'],
  },
  {
    name: 'continuity Deletion',
    layers: [
      [CreateDir('/test/somedir', 0o755), CreateDir('/lib', 0o700), CreateFile('/lib/hidden', '', 0o644)],
      [
        CreateFile('/test/a', '', 0o644),
        CreateFile('/test/b', '', 0o644),
        CreateDir('/test/otherdir', 0o755),
        CreateFile('/test/otherdir/.empty', '', 0o644),
        RemoveAll('/lib'),
        CreateDir('/lib', 0o700),
        CreateFile('/lib/not-hidden', '', 0o644),
      ],
      [Remove('/test/a'), Remove('/test/b'), RemoveAll('/test/otherdir'), CreateFile('/lib/newfile', '', 0o644)],
    ],
  },
  {
    name: 'continuity Update',
    layers: [
      [
        CreateDir('/d1', 0o755),
        CreateDir('/d2', 0o700),
        CreateFile('/d1/f1', 'something...', 0o644),
        CreateFile('/d1/f2', 'else...', 0o644),
        CreateFile('/d1/f3', 'entirely...', 0o644),
      ],
      [
        CreateFile('/d1/f1', 'file content of a different length', 0o664),
        Remove('/d1/f3'),
        CreateFile('/d1/f3', 'updated content', 0o664),
        Chmod('/d1/f2', 0o766),
        Chmod('/d2', 0o777),
      ],
    ],
  },
  {
    name: 'continuity DirectoryPermission',
    layers: [
      [CreateDir('/d1', 0o700), CreateDir('/d2', 0o751), CreateDir('/d3', 0o777)],
      [
        CreateFile('/d1/f', 'irrelevant', 0o644),
        CreateDir('/d1/d', 0o700),
        CreateFile('/d1/d/f', 'irrelevant', 0o644),
        CreateFile('/d2/f', 'irrelevant', 0o644),
        CreateFile('/d3/f', 'irrelevant', 0o644),
      ],
    ],
  },
  {
    name: 'continuity ParentDirectoryPermission',
    layers: [
      [
        CreateDir('/d1', 0o700),
        CreateDir('/d1/a', 0o700),
        CreateDir('/d1/a/b', 0o700),
        CreateDir('/d1/a/b/c', 0o700),
        CreateFile('/d1/a/b/f', 'content1', 0o644),
        CreateDir('/d2', 0o751),
        CreateDir('/d2/a/b', 0o751),
        CreateDir('/d2/a/b/c', 0o751),
        CreateFile('/d2/a/b/f', 'content1', 0o644),
      ],
      [
        CreateFile('/d1/a/b/f', 'content1', 0o644),
        Chmod('/d1/a/b/c', 0o700),
        CreateFile('/d2/a/b/f', 'content2', 0o644),
        Chmod('/d2/a/b/c', 0o751),
      ],
    ],
  },
  { name: 'continuity HardlinkUnmodified', layers: [base, [rewriteHosts], [Link('/etc/hosts', '/etc/hosts.deny')]] },
  { name: 'continuity HardlinkBeforeUnmodified', layers: [base, [rewriteHosts], [Link('/etc/hosts', '/etc/before-hosts')]] },
  {
    name: 'continuity HardlinkBeforeModified',
    layers: [
      base,
      [rewriteHosts],
      [Remove('/etc/hosts'), CreateFile('/etc/hosts', '127.0.0.1 localhost', 0o644), Link('/etc/hosts', '/etc/before-hosts')],
    ],
  },
];

// ---- strata's own ------------------------------------------------------------------

export const STRATA_CASES: ReplayCase[] = [
  {
    // Neither suite makes device nodes (continuity's Mknod is commented out), so the
    // compared major and minor numbers would go unchecked otherwise.
    name: 'devices and fifos',
    layers: [
      [
        CreateDir('/dev', 0o755),
        Mknod('/dev/null', 'char', 0o666, 1, 3),
        Mknod('/dev/loop0', 'block', 0o660, 7, 0),
        Mknod('/run.fifo', 'fifo', 0o644),
      ],
      [Chmod('/dev/null', 0o600), Remove('/dev/loop0'), Mknod('/dev/zero', 'char', 0o666, 1, 5), Chmod('/run.fifo', 0o600)],
    ],
  },
  {
    // A file is copied up once: changes after the first, and links made to it, stay
    // with the upper copy; only the first change parts it from its lower names.
    name: 'changes after a copy-up',
    layers: [
      [CreateFile('/f', 'lower\n', 0o644), CreateFile('/h', 'linked\n', 0o644), Link('/h', '/h2')],
      [
        CreateFile('/f', 'upper\n', 0o644),
        Link('/f', '/g'),
        Chmod('/f', 0o600),
        Chmod('/h', 0o600),
        Link('/h', '/h3'),
        Chmod('/h3', 0o640),
      ],
    ],
  },
];
