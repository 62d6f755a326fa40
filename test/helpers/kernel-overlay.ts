import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import os from 'node:os';
import { runTool } from '../../src/mount/tool.js';
import { MOUNT_DATA_LIMIT } from '../../src/mount/overlay-options.js';

const run = promisify(execFile);

/**
 * The kernel as the oracle: mounts real overlayfs over plain directories and runs
 * file-system calls inside it. The calls run in a Python process chrooted into the
 * merged dir, because only a chrooted process resolves absolute symlinks and `..`
 * the way a container process does (Node cannot chroot; node:fs on the mount point
 * would follow `/etc/x` to the host's /etc). Root only.
 */

export interface OverlayMountOptions {
  lowerDirs: string[]; // top first, as lowerdir=
  upperDir?: string;
  workDir?: string;
  target: string;
  readOnly?: boolean;
  /** Where relative lowerDirs are found (mount runs there): overlayfs takes all its options in one page. */
  cwd?: string;
}

export interface KernelMount {
  merged: string;
  unmount(): Promise<void>;
}

let python: Promise<string | null> | undefined;

/** The python3 binary itself (not a shim script), so each session starts fast. */
function findPython(): Promise<string | null> {
  python ??= run('python3', ['-c', 'import sys; print(sys.executable)']).then(
    ({ stdout }) => stdout.trim() || null,
    () => null,
  );
  return python;
}

let reason: Promise<string | null> | undefined;

/** Why kernel comparisons cannot run here, or null when they can. */
export function kernelOverlaySkipReason(): Promise<string | null> {
  reason ??= (async () => {
    if (process.platform !== 'linux') return 'kernel overlay tests need Linux';
    if (process.getuid?.() !== 0) return 'kernel overlay tests need root (mount -t overlay)';
    if ((await findPython()) === null) return 'kernel overlay tests need python3 (to chroot into the mount)';
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-ovl-probe-'));
    try {
      const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => path.join(dir, d)) as [
        string,
        string,
        string,
        string,
      ];
      await Promise.all([lower, upper, work, merged].map((d) => fs.mkdir(d)));
      const m = await mountOverlay({ lowerDirs: [lower], upperDir: upper, workDir: work, target: merged });
      await m.unmount();
      return null;
    } catch (err) {
      return `mount -t overlay failed here: ${(err as Error).message.split('\n')[0]}`;
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  })();
  return reason;
}

export async function mountOverlay(o: OverlayMountOptions): Promise<KernelMount> {
  const lowers = [...o.lowerDirs];
  let extra: string | null = null;
  if (o.upperDir === undefined && lowers.length < 2) {
    // Without an upper the kernel wants two lowers; an empty one changes nothing.
    extra = `${o.target}.empty-lower`;
    await fs.mkdir(extra, { recursive: true });
    lowers.push(extra);
  }
  for (const p of [...lowers, o.upperDir ?? '', o.workDir ?? '']) {
    if (/[,:\\]/.test(p)) throw new Error(`overlay option paths cannot contain , : or \\: ${p}`);
  }
  const optionsFor = (names: string[]) => {
    const options = [`lowerdir=${names.join(':')}`];
    if (o.upperDir !== undefined) options.push(`upperdir=${o.upperDir}`, `workdir=${o.workDir}`);
    // Pin what changes semantics: without redirect_dir a lower directory cannot be
    // renamed (EXDEV), as DESIGN.md specifies; no index (copy-up breaks hardlinks).
    options.push('redirect_dir=off', 'index=off', 'metacopy=off', 'xino=off');
    if (o.readOnly) options.push('ro');
    return options.join(',');
  };
  const byPath = optionsFor(lowers);
  if (o.cwd !== undefined || Buffer.byteLength(byPath) <= MOUNT_DATA_LIMIT) {
    await run('mount', ['-t', 'overlay', 'overlay', '-o', byPath, o.target], o.cwd === undefined ? {} : { cwd: o.cwd });
  } else {
    // Deep stacks: each lower as an fd the mount binary inherits, as strata mounts them (src/mount/engine.ts).
    const fds = lowers.map((l) => fsSync.openSync(l, fsSync.constants.O_RDONLY | fsSync.constants.O_DIRECTORY));
    try {
      const done = await runTool('mount', ['-t', 'overlay', 'overlay', '-o', optionsFor(fds.map((_, i) => String(3 + i))), o.target], {
        cwd: '/proc/self/fd',
        fds,
      });
      if (done.code !== 0) throw new Error(`mount -t overlay failed: ${done.stderr}`);
    } finally {
      for (const fd of fds) fsSync.closeSync(fd);
    }
  }
  return {
    merged: o.target,
    unmount: async () => {
      await run('umount', [o.target]).catch(() => run('umount', ['-l', o.target]));
      if (extra !== null) await fs.rm(extra, { recursive: true, force: true });
    },
  };
}

/** What a chrooted call answered: its value, or the errno name it failed with. */
export type RawOutcome = { ok: true; value?: unknown } | { ok: false; code: string; message?: string };

/**
 * A Python process chrooted into `root` that performs one call per request with the
 * system calls node:fs uses for the same call (open flags, link without following,
 * Node's mkdir -p and rm -r algorithms). Stat results use list_tree.py's type names.
 */
export class ChrootSession {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    this.#lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static async start(root: string, umask = 0o022): Promise<ChrootSession> {
    const py = await findPython();
    if (py === null) throw new Error('python3 not found');
    // -S -E: no site module or environment, a quarter of the start-up time; only the stdlib is used.
    const child = spawn(py, ['-S', '-E', '-c', DRIVER, root, umask.toString(8)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const session = new ChrootSession(child);
    const ready = await session.call({ op: 'ping' });
    if (!ready.ok) throw new Error(`chroot driver did not start: ${stderr}`);
    return session;
  }

  async call(request: { op: string } & Record<string, unknown>): Promise<RawOutcome> {
    this.#child.stdin.write(`${JSON.stringify(request)}\n`);
    const line = await this.#lines.next();
    if (line.done) throw new Error('chroot driver exited');
    return JSON.parse(line.value) as RawOutcome;
  }

  async close(): Promise<void> {
    this.#child.stdin.end();
    if (this.#child.exitCode === null) await new Promise((resolve) => this.#child.once('exit', resolve));
  }
}

const DRIVER = String.raw`
import os, sys, json, errno, stat, binascii
os.chroot(sys.argv[1])
os.chdir('/')
os.umask(int(sys.argv[2], 8))

KINDS = ((stat.S_ISDIR, 'dir'), (stat.S_ISREG, 'file'), (stat.S_ISLNK, 'symlink'), (stat.S_ISFIFO, 'fifo'),
         (stat.S_ISCHR, 'char'), (stat.S_ISBLK, 'block'), (stat.S_ISSOCK, 'socket'))

def kind(m):
    for test, name in KINDS:
        if test(m):
            return name

def stat_view(st):
    return {'type': kind(st.st_mode), 'mode': stat.S_IMODE(st.st_mode), 'uid': st.st_uid, 'gid': st.st_gid,
            'size': st.st_size, 'nlink': st.st_nlink, 'mtimeMs': st.st_mtime_ns / 1e6, 'rdev': st.st_rdev}

def write(p, data, flags, mode):
    fd = os.open(p, flags | os.O_CLOEXEC, mode)
    try:
        buf = binascii.unhexlify(data)
        while buf:
            buf = buf[os.write(fd, buf):]
    finally:
        os.close(fd)

def read(p):
    fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            b = os.read(fd, 1 << 16)
            if not b:
                break
            chunks.append(b)
        return binascii.hexlify(b''.join(chunks)).decode()
    finally:
        os.close(fd)

def truncate(p, n):
    fd = os.open(p, os.O_RDWR | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, max(0, n))
    finally:
        os.close(fd)

def mkdirp(p, mode):
    # node_file.cc MKDirp
    pending, first = [p], None
    while pending:
        nxt = pending.pop()
        try:
            os.mkdir(nxt, mode)
            if first is None:
                first = nxt
            continue
        except OSError as e:
            if e.errno in (errno.EACCES, errno.ENOSPC, errno.ENOTDIR, errno.EPERM):
                raise
            if e.errno == errno.ENOENT:
                parent = nxt[:nxt.rfind('/')] if '/' in nxt else nxt
                if parent == nxt:
                    raise OSError(errno.EEXIST, 'exists')
                pending += [nxt, parent]
                continue
            st = os.stat(nxt)
            if not stat.S_ISDIR(st.st_mode):
                raise OSError(errno.ENOTDIR if e.errno == errno.EEXIST and pending else errno.EEXIST, 'not a dir')
    return first

def realpath(p):
    # The kernel's answer, not os.path.realpath's (which takes '..' after a file lexically):
    # stat resolves with the kernel's rules; getcwd names a directory inside the chroot.
    st = os.stat(p)
    # stat succeeded, so following the final symlinks by hand ends (at most 40 hops).
    while not stat.S_ISDIR(st.st_mode) and stat.S_ISLNK(os.lstat(p).st_mode):
        target = os.readlink(p)
        p = target if target.startswith('/') else os.path.join(os.path.dirname(p) or '/', target)
    if stat.S_ISDIR(st.st_mode):
        where, name = p, ''
    else:
        where, name = os.path.dirname(p) or '/', os.path.basename(p)
    fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fchdir(fd)
        cwd = os.getcwd()
    finally:
        os.chdir('/')
        os.close(fd)
    return os.path.join(cwd, name) if name else cwd

def listing(top):
    out = []
    for name in sorted(os.listdir(top)):
        p = os.path.join(top, name)
        k = kind(os.lstat(p).st_mode)
        out.append([p, k])
        if k == 'dir':
            out += listing(p)
    return out

def rm(p, recursive, force):
    try:
        st = os.lstat(p)
    except OSError as e:
        if force and e.errno == errno.ENOENT:
            return
        raise
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(p)
        return
    if not recursive:
        raise OSError(errno.EISDIR, 'is a dir')
    for name in sorted(os.listdir(p)):
        rm(p + name if p.endswith('/') else p + '/' + name, True, False)
    os.rmdir(p)

OPS = {
    'ping': lambda r: None,
    'list': lambda r: listing('/'),
    'lstat': lambda r: stat_view(os.lstat(r['path'])),
    'stat': lambda r: stat_view(os.stat(r['path'])),
    'readdir': lambda r: sorted(os.listdir(r['path'])),
    'readFile': lambda r: read(r['path']),
    'readlink': lambda r: os.readlink(r['path']),
    'realpath': lambda r: realpath(r['path']),
    'exists': lambda r: os.path.exists(r['path']),
    'writeFile': lambda r: write(r['path'], r['data'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, r.get('mode', 0o666)),
    'appendFile': lambda r: write(r['path'], r['data'], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666),
    'truncate': lambda r: truncate(r['path'], r['len']),
    'mkdir': lambda r: mkdirp(r['path'], r.get('mode', 0o777)) if r.get('recursive') else os.mkdir(r['path'], r.get('mode', 0o777)),
    'unlink': lambda r: os.unlink(r['path']),
    'rmdir': lambda r: os.rmdir(r['path']),
    'rm': lambda r: rm(r['path'], r.get('recursive', False), r.get('force', False)),
    'rename': lambda r: os.rename(r['from'], r['to']),
    'symlink': lambda r: os.symlink(r['target'], r['path']),
    'link': lambda r: os.link(r['existing'], r['path'], follow_symlinks=False),
    'chmod': lambda r: os.chmod(r['path'], r['mode']),
    'chown': lambda r: os.chown(r['path'], r['uid'], r['gid']),
    'lchown': lambda r: os.lchown(r['path'], r['uid'], r['gid']),
    'utimes': lambda r: os.utime(r['path'], (r['atime'], r['mtime'])),
}

for line in sys.stdin:
    req = json.loads(line)
    try:
        out = {'ok': True, 'value': OPS[req['op']](req)}
    except OSError as e:
        out = {'ok': False, 'code': errno.errorcode.get(e.errno, 'E%d' % (e.errno or 0)), 'message': str(e)}
    except Exception as e:
        out = {'ok': False, 'code': 'EDRIVER', 'message': repr(e)}
    sys.stdout.write(json.dumps(out) + '\n')
    sys.stdout.flush()
`;
