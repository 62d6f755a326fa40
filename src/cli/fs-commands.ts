import path from 'node:path';
import { once } from 'node:events';
import type { Command } from 'commander';
import type { Writable } from 'node:stream';
import { FS_ERROR_TEXT, isFsError, isStrataError, type FsError } from '../errors.js';
import { findContainer } from '../container/lookup.js';
import { containerView } from '../container/view.js';
import { withContainerLock } from '../container/lock.js';
import { moveInView } from '../container/copy.js';
import type { ContainerRecord } from '../container/record.js';
import type { Resolver } from '../resolver/resolver.js';
import type { CliContext } from './context.js';
import { compareNames } from '../resolver/readdir.js';
import { devMajor, devMinor } from '../resolver/upper-meta.js';
import type { ResolverStats } from '../resolver/options.js';

/**
 * A failure a container tool reports in its own words (`touch: /x: Read-only file
 * system`): main.ts prints the lines as they are, without the `strata:` prefix, and
 * exits 1 — the output a script would get from the same tool inside the container.
 */
export class ToolError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'ToolError';
  }
}

/** busybox's strerror texts; its shell says "nonexistent directory" where a redirect's parent is missing. */
function strerror(err: FsError): string {
  return FS_ERROR_TEXT[err.code] ?? err.code;
}

function shellCreateError(err: FsError): string {
  return err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 'nonexistent directory' : strerror(err);
}

/** Paths inside the container are relative to its root, as a process started in `/` sees them. */
function inRoot(p: string): string {
  return p.startsWith('/') ? p : `/${p}`;
}

/**
 * busybox's loop over arguments: each failure is reported in the tool's words and the
 * tool fails at the end if any did (`defer`: the caller throws, after printing the rest).
 * Errors that are not about a file (no such container) stop everything at once.
 */
async function eachPath(paths: string[], act: (p: string) => Promise<void>, say: (err: FsError, p: string) => string,
  options: { defer?: boolean } = {}): Promise<string[]> {
  const lines: string[] = [];
  for (const p of paths) {
    try {
      await act(p);
    } catch (err) {
      if (!isFsError(err) || isStrataError(err)) throw err;
      lines.push(say(err, p));
    }
  }
  if (lines.length > 0 && !options.defer) throw new ToolError(lines);
  return lines;
}

async function writeAll(source: AsyncIterable<unknown>, out: Writable): Promise<void> {
  for await (const chunk of source) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
}

export function registerFsCommands(program: Command, ctx: CliContext): void {
  const fsCmd = program.command('fs').description("Read and change files in a container's merged view, as its busybox tools would");
  // Changes from two processes to one container serialise: a copy-up racing another
  // write of the same file would otherwise lose one of them.
  const locked = <A extends [string, ...unknown[]]>(action: (...args: A) => Promise<void>) => async (...args: A): Promise<void> => {
    const store = await ctx.store();
    const record = await findContainer(store, args[0]);
    await withContainerLock(store, record.id, () => action(...args));
  };
  const view = async (name: string): Promise<{ view: Resolver; record: ContainerRecord }> => {
    const store = await ctx.store();
    const record = await findContainer(store, name);
    return { view: await containerView(store, record), record };
  };

  fsCmd.command('cat').description('Print files').argument('<container>').argument('<path...>')
    .action(async (c: string, paths: string[]) => {
      const { view: v } = await view(c);
      await eachPath(paths, async (p) => writeAll(await v.createReadStream(inRoot(p)), ctx.io.stdout),
        (err, p) => (err.code === 'EISDIR' ? 'cat: read error: Is a directory' : `cat: can't open '${p}': ${strerror(err)}`));
    });

  fsCmd.command('ls').description('List directory contents (sorted; dotfiles only with -a)').argument('<container>').argument('[path...]')
    .option('-l', 'long listing: mode, links, uid, gid, size, date, name')
    .option('-a', 'include names starting with a dot, and . and ..')
    .option('-d', 'list directories themselves, not their contents')
    .option('--format <format>', 'json: one object per entry')
    .action(async (c: string, paths: string[], opts: { l?: boolean; a?: boolean; d?: boolean; format?: string }) => {
      const { view: v, record } = await view(c);
      const args = paths.length > 0 ? paths : ['/'];
      const singles: Listed[] = [];
      const dirs: string[] = [];
      // Without -l a symlink named on the command line is followed, as ls does.
      const follow = !opts.l && !opts.d;
      const failed = await eachPath(args, async (p) => {
        const stats = await (follow ? v.stat(inRoot(p)) : v.lstat(inRoot(p)));
        if (stats.type === 'dir' && !opts.d) dirs.push(p);
        else singles.push(await listed(v, p, inRoot(p), stats));
      }, (err, p) => `ls: ${p}: ${strerror(err)}`, { defer: true });
      const now = Date.now();
      const print = (items: Listed[]) => {
        const lines = opts.format === 'json' ? items.map((i) => JSON.stringify(statJson(i, record))) : lsLines(items, opts.l === true, now);
        for (const line of lines) ctx.print(line);
      };
      print(singles.sort((a, b) => compareNames(a.name, b.name)));
      for (const [i, dir] of dirs.entries()) {
        if (args.length > 1 && opts.format !== 'json') ctx.print(`${i === 0 && singles.length === 0 ? '' : '\n'}${dir}:`);
        const items = await listDirectory(v, inRoot(dir), opts.a === true);
        if (opts.l && opts.format !== 'json') ctx.print(`total ${Math.floor(items.reduce((sum, item) => sum + item.stats.blocks, 0) / 2)}`);
        print(items);
      }
      if (failed.length > 0) throw new ToolError(failed);
    });

  fsCmd.command('stat').description("Show a file's type, mode, owner, size, times and the layer that serves it")
    .argument('<container>').argument('<path...>')
    .option('-L', 'follow symlinks')
    .option('--format <format>', 'json: one object per path')
    .action(async (c: string, paths: string[], opts: { L?: boolean; format?: string }) => {
      const { view: v, record } = await view(c);
      await eachPath(paths, async (p) => {
        const stats = await (opts.L ? v.stat(inRoot(p)) : v.lstat(inRoot(p)));
        const item = await listed(v, p, inRoot(p), stats);
        ctx.print(opts.format === 'json' ? JSON.stringify(statJson(item, record)) : statText(item, record));
      }, (err, p) => `stat: can't stat '${p}': ${strerror(err)}`);
    });

  for (const verb of ['write', 'append'] as const) {
    fsCmd.command(verb).description(verb === 'write' ? 'Replace a file with stdin (sh: cat > PATH)' : 'Append stdin to a file (sh: cat >> PATH)')
      .argument('<container>').argument('<path>')
      .action(locked(async (c: string, p: string) => {
        const { view: v } = await view(c);
        // Streamed from stdin to the file: the input is never held whole.
        const input = ctx.io.stdin as AsyncIterable<Buffer>;
        await eachPath([p], (q) => (verb === 'write' ? v.writeFile(inRoot(q), input) : v.appendFile(inRoot(q), input)),
          (err, q) => `${verb}: can't create ${q}: ${shellCreateError(err)}`);
      }));
  }

  fsCmd.command('mkdir').description('Create directories').argument('<container>').argument('<path...>')
    .option('-p', 'create parents as needed; no error if the directory exists')
    .option('-m <mode>', 'octal mode of the new directories')
    .action(locked(async (c: string, paths: string[], opts: { p?: boolean; m?: string }) => {
      const { view: v } = await view(c);
      const mode = opts.m === undefined ? undefined : octalMode('mkdir', opts.m);
      await eachPath(paths, async (p) => {
        await v.mkdir(inRoot(p), { recursive: opts.p === true, ...(mode === undefined ? {} : { mode }) });
        if (mode !== undefined) await v.chmod(inRoot(p), mode);
      }, (err, p) => `mkdir: can't create directory '${opts.p && err.path ? err.path : p}': ${strerror(err)}`);
    }));

  fsCmd.command('rm').description('Remove files or directories').argument('<container>').argument('<path...>')
    .option('-r', 'remove directories and their contents')
    .option('-f', 'ignore missing files')
    .action(locked(async (c: string, paths: string[], opts: { r?: boolean; f?: boolean }) => {
      const { view: v } = await view(c);
      const lines: string[] = [];
      for (const p of paths) await removePath(v, p, opts, lines);
      if (lines.length > 0) throw new ToolError(lines);
    }));

  fsCmd.command('mv').description('Move or rename; a directory of a lower layer is copied and deleted')
    .argument('<container>').argument('<paths...>', 'SOURCE... DEST').usage('[options] <container> <source...> <dest>')
    .action(locked(async (c: string, args: string[]) => {
      const [sources, dest] = splitLast('mv', args);
      const { view: v } = await view(c);
      const destIsDir = await v.stat(inRoot(dest)).then((s) => s.type === 'dir', () => false);
      if (sources.length > 1 && !destIsDir) throw new ToolError([`mv: '${dest}' is not a directory`]);
      await eachPath(sources, (s) => moveInView(v, inRoot(s), destIsDir ? path.posix.join(inRoot(dest), path.posix.basename(s)) : inRoot(dest)),
        (err, s) => `mv: can't rename '${s}': ${strerror(err)}`);
    }));

  fsCmd.command('ln').description('Make a hard link, or a symbolic link with -s').argument('<container>').argument('<paths...>', 'TARGET... LINK_NAME').usage('[options] <container> <target...> <link>')
    .option('-s', 'make a symbolic link (its target is stored as given)')
    .action(locked(async (c: string, args: string[], opts: { s?: boolean }) => {
      const [targets, link] = splitLast('ln', args);
      const { view: v } = await view(c);
      const linkIsDir = await v.stat(inRoot(link)).then((s) => s.type === 'dir', () => false);
      if (targets.length > 1 && !linkIsDir) throw new ToolError([`ln: '${link}' is not a directory`]);
      const nameOf = (t: string) => (linkIsDir ? path.posix.join(link, path.posix.basename(t)) : link);
      await eachPath(targets, (t) => (opts.s ? v.symlink(t, inRoot(nameOf(t))) : v.link(inRoot(t), inRoot(nameOf(t)))),
        (err, t) => `ln: ${!opts.s && err.path === inRoot(t) ? t : nameOf(t)}: ${strerror(err)}`);
    }));

  fsCmd.command('chmod').description('Change permission bits (octal mode)').argument('<container>').argument('<mode>').argument('<path...>')
    .action(locked(async (c: string, modeText: string, paths: string[]) => {
      const mode = octalMode('chmod', modeText);
      const { view: v } = await view(c);
      await eachPath(paths, (p) => v.chmod(inRoot(p), mode), (err, p) => `chmod: ${p}: ${strerror(err)}`);
    }));

  fsCmd.command('touch').description('Update times, creating empty files that do not exist').argument('<container>').argument('<path...>')
    .option('-c', 'do not create files')
    .action(locked(async (c: string, paths: string[], opts: { c?: boolean }) => {
      const { view: v } = await view(c);
      await eachPath(paths, async (p) => {
        const now = new Date();
        try {
          await v.utimes(inRoot(p), now, now);
        } catch (err) {
          if (!isFsError(err, 'ENOENT')) throw err;
          // open(O_CREAT) without O_TRUNC, as touch does: follows a dangling link to create its target.
          if (!opts.c) await v.appendFile(inRoot(p), '');
        }
      }, (err, p) => `touch: ${p}: ${strerror(err)}`);
    }));

  fsCmd.command('truncate').description('Shrink or extend files to a size, creating them if missing').argument('<container>').argument('<path...>')
    .option('-s <size>', 'size in bytes, or with a K, M or G suffix (powers of 1024)', '0')
    .option('-c', 'do not create files')
    .action(locked(async (c: string, paths: string[], opts: { s: string; c?: boolean }) => {
      const size = parseSize(opts.s);
      const { view: v } = await view(c);
      await eachPath(paths, async (p) => {
        try {
          await v.truncate(inRoot(p), size);
        } catch (err) {
          if (!isFsError(err, 'ENOENT') || opts.c) {
            if (opts.c && isFsError(err, 'ENOENT')) return;
            throw err;
          }
          await v.appendFile(inRoot(p), '');
          await v.truncate(inRoot(p), size);
        }
      }, (err, p) => `truncate: ${p}: open: ${strerror(err)}`);
    }));
}

/** busybox remove_file(): lstat, refuse a directory without -r, empty it depth first, report each failure. */
async function removePath(v: Resolver, shown: string, opts: { r?: boolean; f?: boolean }, lines: string[]): Promise<boolean> {
  const fail = (err: unknown, line: (e: FsError) => string): boolean => {
    if (!isFsError(err) || isStrataError(err)) throw err;
    lines.push(line(err));
    return false;
  };
  const base = path.posix.basename(shown);
  if (base === '.' || base === '..') {
    lines.push("rm: refusing to remove '.' or '..' directory");
    return false;
  }
  let stats;
  try {
    stats = await v.lstat(inRoot(shown));
  } catch (err) {
    if (isFsError(err, 'ENOENT') && opts.f) return true;
    return fail(err, (e) => (e.code === 'ENOENT' ? `rm: can't remove '${shown}': ${strerror(e)}` : `rm: can't stat '${shown}': ${strerror(e)}`));
  }
  if (stats.type !== 'dir') {
    return v.unlink(inRoot(shown)).then(() => true, (err) => fail(err, (e) => `rm: can't remove '${shown}': ${strerror(e)}`));
  }
  if (!opts.r) {
    lines.push(`rm: '${shown}' is a directory`);
    return false;
  }
  let ok = true;
  for (const name of await v.readdir(inRoot(shown))) {
    ok = (await removePath(v, `${shown.replace(/\/+$/, '')}/${name}`, opts, lines)) && ok;
  }
  return v.rmdir(inRoot(shown)).then(() => ok, (err) => fail(err, (e) => `rm: can't remove '${shown}': ${strerror(e)}`));
}

/** `SOURCE... DEST`: commander allows only the last argument to be variadic. */
function splitLast(tool: string, args: string[]): [string[], string] {
  if (args.length < 2) throw new ToolError([`${tool}: missing operand after '${args[0] ?? ''}'`]);
  return [args.slice(0, -1), args[args.length - 1]!];
}

function octalMode(tool: string, text: string): number {
  if (!/^[0-7]{1,4}$/.test(text)) throw new ToolError([`${tool}: invalid mode '${text}'`]);
  return Number.parseInt(text, 8);
}

const SIZE_SUFFIXES: Record<string, number> = { '': 1, k: 1024, K: 1024, m: 1024 ** 2, M: 1024 ** 2, g: 1024 ** 3, G: 1024 ** 3 };

function parseSize(text: string): number {
  const match = /^(\d+)([kKmMgG]?)$/.exec(text);
  if (match === null) throw new ToolError([`truncate: invalid number '${text}'`]);
  return Number(match[1]) * SIZE_SUFFIXES[match[2]!]!;
}

/* ---- what ls and stat print ---- */

interface Listed {
  /** As shown: the argument as typed, or the name inside a listed directory. */
  name: string;
  /** The container path. */
  path: string;
  stats: ResolverStats;
  target?: string;
}

async function listed(v: Resolver, name: string, p: string, stats: ResolverStats): Promise<Listed> {
  return { name, path: p, stats, ...(stats.type === 'symlink' ? { target: await v.readlink(p) } : {}) };
}

/** A directory's entries, sorted by name as ls sorts them; with -a also dotfiles, `.` and `..`. */
async function listDirectory(v: Resolver, dir: string, all: boolean): Promise<Listed[]> {
  const items: Listed[] = [];
  if (all) {
    items.push(await listed(v, '.', dir, await v.stat(dir)));
    items.push(await listed(v, '..', path.posix.join(dir, '..'), await v.stat(`${dir.replace(/\/+$/, '')}/..`)));
  }
  for (const name of await v.readdir(dir)) {
    if (!all && name.startsWith('.')) continue;
    const p = path.posix.join(dir, name);
    items.push(await listed(v, name, p, await v.lstat(p)));
  }
  return items.sort((a, b) => compareNames(a.name, b.name));
}

const TYPE_LETTER: Record<ResolverStats['type'], string> = { file: '-', dir: 'd', symlink: 'l', fifo: 'p', char: 'c', block: 'b', socket: 's' };

/** `drwxr-xr-x`, with s/S, s/S and t/T for setuid, setgid and sticky, as ls prints it. */
export function modeString(type: ResolverStats['type'], mode: number): string {
  let text = TYPE_LETTER[type];
  for (const [shift, special, letter] of [[6, 0o4000, 's'], [3, 0o2000, 's'], [0, 0o1000, 't']] as const) {
    const bits = (mode >> shift) & 7;
    text += bits & 4 ? 'r' : '-';
    text += bits & 2 ? 'w' : '-';
    const x = (bits & 1) !== 0;
    text += mode & special ? (x ? letter : letter.toUpperCase()) : x ? 'x' : '-';
  }
  return text;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HALF_YEAR_MS = (365 * 24 * 3600 * 1000) / 2;

/** busybox ls: `Nov 23 05:31` within half a year (and up to 15 minutes ahead), else `Nov 23  2019`; UTC, as in a container. */
export function lsDate(ms: number, now: number): string {
  const d = new Date(ms);
  const head = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)}`;
  const age = now - ms;
  if (age < HALF_YEAR_MS && age > -15 * 60 * 1000) {
    return `${head} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
  }
  return `${head}  ${d.getUTCFullYear()}`;
}

/** busybox `ls -ln` columns: mode, links, uid, gid, size (or major, minor), date, name, `-> target`. */
function lsLines(items: Listed[], long: boolean, now: number): string[] {
  if (!long) return items.map((i) => i.name);
  return items.map(({ name, stats: s, target }) => {
    const size = s.type === 'char' || s.type === 'block'
      ? `${String(devMajor(s.rdev)).padStart(4)}, ${String(devMinor(s.rdev)).padStart(3)}`
      : String(s.size).padStart(9);
    const link = target === undefined ? '' : ` -> ${target}`;
    return `${modeString(s.type, s.mode)} ${String(s.nlink).padStart(4)} ${String(s.uid).padEnd(8)} ${String(s.gid).padEnd(8)} ${size} ${lsDate(s.mtimeMs, now)} ${name}${link}`;
  });
}

/** Which layer serves an entry, in the words of `inspect`: the upper dir, a mount, or a layer's chainID. */
function layerName(record: ContainerRecord, layer: ResolverStats['layer']): string {
  if (typeof layer !== 'number') return layer;
  // The resolver numbers lower dirs top first; the record lists chainIDs bottom first.
  return record.layers[record.layers.length - 1 - layer] ?? `lower ${layer}`;
}

const TYPE_NAME: Record<ResolverStats['type'], string> = {
  file: 'regular file', dir: 'directory', symlink: 'symbolic link', fifo: 'fifo', char: 'character special file',
  block: 'block special file', socket: 'socket',
};

function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/** `2026-11-23 04:37:00.000000000 +0000`, stat(1)'s time format, in UTC. */
function statTime(ms: number): string {
  const iso = new Date(Math.floor(ms)).toISOString();
  const nanos = String(Math.round((ms - Math.floor(ms / 1000) * 1000) * 1e6)).padStart(9, '0').slice(0, 9);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${nanos} +0000`;
}

function statText(item: Listed, record: ContainerRecord): string {
  const s = item.stats;
  const type = s.type === 'file' && s.size === 0 ? 'regular empty file' : TYPE_NAME[s.type];
  const lines = [
    `  File: ${item.name}${item.target === undefined ? '' : ` -> ${item.target}`}`,
    `  Size: ${String(s.size).padEnd(10)}  Links: ${String(s.nlink).padEnd(6)}  ${type}`,
  ];
  if (s.type === 'char' || s.type === 'block') lines.push(`Device: ${devMajor(s.rdev)},${devMinor(s.rdev)}`);
  lines.push(
    `Access: (${octal(s.mode)}/${modeString(s.type, s.mode)})  Uid: ${s.uid}  Gid: ${s.gid}`,
    `Modify: ${statTime(s.mtimeMs)}`,
    ` Layer: ${layerName(record, s.layer)}`,
  );
  return lines.join('\n');
}

/** One object per path for scripts: numbers as numbers, the mode also as ls prints it. */
function statJson(item: Listed, record: ContainerRecord): object {
  const s = item.stats;
  return {
    name: item.name,
    path: item.path,
    type: s.type,
    mode: octal(s.mode),
    modeString: modeString(s.type, s.mode),
    uid: s.uid,
    gid: s.gid,
    size: s.size,
    nlink: s.nlink,
    ...(s.type === 'char' || s.type === 'block' ? { devMajor: devMajor(s.rdev), devMinor: devMinor(s.rdev) } : {}),
    mtime: new Date(s.mtimeMs).toISOString(),
    ...(item.target === undefined ? {} : { linkTarget: item.target }),
    layer: layerName(record, s.layer),
  };
}
