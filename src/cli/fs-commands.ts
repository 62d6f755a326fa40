import path from 'node:path';
import { once } from 'node:events';
import type { Command } from 'commander';
import type { Writable } from 'node:stream';
import { FS_ERROR_TEXT, isFsError, isStrataError, type FsError } from '../errors.js';
import type { Resolver } from '../resolver/resolver.js';
import type { CliContext } from './context.js';
import type { Listed, RecordWithLayerIds } from './fs-listing.js';
import { ToolError } from './tool-error.js';

// The container, resolver and listing modules load inside the actions: defining the
// commands (for parsing and --help) must not cost what only running one needs.

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
async function eachPath(
  paths: string[],
  act: (p: string) => Promise<void>,
  say: (err: FsError, p: string) => string,
  options: { defer?: boolean } = {},
): Promise<string[]> {
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
  /** A Go template for `fs ls`/`fs stat` entries, compiled before anything is read; undefined for text and json. */
  const entryTemplate = async (format: string | undefined) => {
    const [{ isTemplate, printTemplate }, { compileTemplate }] = await Promise.all([import('./output.js'), import('./template.js')]);
    if (!isTemplate(format)) return undefined;
    const template = compileTemplate(format, { typeName: 'entry' });
    return { print: (values: object[]) => printTemplate(ctx, template, values) };
  };
  const fsCmd = program.command('fs').description("Read and change files in a container's merged view, as its busybox tools would");
  // Every change through a container's view takes the container's lock (containerView);
  // a changing command runs as one batch, so another process's change cannot land
  // between, say, an `rm -r`'s readdir and its rmdir, and the lock is taken once.
  const batched =
    <A extends [string, ...unknown[]]>(action: (v: Resolver, ...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      const { view: v } = await view(args[0]);
      await v.batch(() => action(v, ...args));
    };
  const view = async (name: string): Promise<{ view: Resolver; record: RecordWithLayerIds }> => {
    const store = await ctx.store();
    const [{ findContainer }, { containerView }] = await Promise.all([import('../container/lookup.js'), import('../container/view.js')]);
    const record: RecordWithLayerIds = await findContainer(store, name);
    const { readImageRecord } = await import('../image/record.js');
    const image = await readImageRecord(store, record.image).catch(() => null);
    // Only when the image's chain is the container's: then diffIDs name the same layers.
    if (image && image.layers.map((l) => l.chainId).join() === record.layers.join())
      record.layerDiffIds = image.layers.map((l) => l.diffId);
    return { view: await containerView(store, record), record };
  };

  fsCmd
    .command('cat')
    .description('Print files')
    .argument('<container>', 'container name or ID (a unique ID prefix will do)')
    .argument('<path...>', "paths in the container's merged view")
    .action(async (c: string, paths: string[]) => {
      const { view: v } = await view(c);
      await eachPath(
        paths,
        async (p) => writeAll(await v.createReadStream(inRoot(p)), ctx.io.stdout),
        (err, p) => (err.code === 'EISDIR' ? 'cat: read error: Is a directory' : `cat: can't open '${p}': ${strerror(err)}`),
      );
    });

  fsCmd
    .command('ls')
    .description('List directory contents (sorted; dotfiles only with -a)')
    .argument('<container>', 'container name or ID (a unique ID prefix will do)')
    .argument('[path...]', "paths in the container's merged view (default /)")
    .option(
      '-l',
      "long listing: mode, links, owner, group, size, date, name (owner and group named by the container's /etc/passwd and /etc/group)",
    )
    .option('-n', 'long listing with numeric owner and group')
    .option('-a', 'include names starting with a dot, and . and ..')
    .option('-d', 'list directories themselves, not their contents')
    .option('--format <format>', 'json: one object per entry; or a Go template over each entry (.Name .Mode .Size …)')
    .action(async (c: string, paths: string[], opts: { l?: boolean; n?: boolean; a?: boolean; d?: boolean; format?: string }) => {
      const template = await entryTemplate(opts.format);
      const { view: v, record } = await view(c);
      const { listed, listDirectory, lsLines, ownerNames, sortByName, statFields, statJson } = await import('./fs-listing.js');
      if (opts.n) opts.l = true;
      const names = opts.l && !opts.n && opts.format === undefined ? await ownerNames(v) : undefined;
      const args = paths.length > 0 ? paths : ['/'];
      const singles: Listed[] = [];
      const dirs: string[] = [];
      // Without -l a symlink named on the command line is followed, as ls does.
      const follow = !opts.l && !opts.d;
      const failed = await eachPath(
        args,
        async (p) => {
          const stats = await (follow ? v.stat(inRoot(p)) : v.lstat(inRoot(p)));
          if (stats.type === 'dir' && !opts.d) dirs.push(p);
          else singles.push(await listed(v, p, inRoot(p), stats));
        },
        (err, p) => `ls: ${p}: ${strerror(err)}`,
        { defer: true },
      );
      if (template) {
        // One rendering per entry, the named files first, then each directory's entries.
        const items = sortByName(singles);
        for (const dir of dirs) items.push(...(await listDirectory(v, inRoot(dir), opts.a === true)));
        template.print(items.map((i) => statFields(i, record)));
        if (failed.length > 0) throw new ToolError(failed);
        return;
      }
      const now = Date.now();
      const print = (items: Listed[]) => {
        const lines =
          opts.format === 'json' ? items.map((i) => JSON.stringify(statJson(i, record))) : lsLines(items, opts.l === true, now, names);
        for (const line of lines) ctx.print(line);
      };
      print(sortByName(singles));
      for (const [i, dir] of dirs.entries()) {
        if (args.length > 1 && opts.format !== 'json') ctx.print(`${i === 0 && singles.length === 0 ? '' : '\n'}${dir}:`);
        const items = await listDirectory(v, inRoot(dir), opts.a === true);
        if (opts.l && opts.format !== 'json') ctx.print(`total ${Math.floor(items.reduce((sum, item) => sum + item.stats.blocks, 0) / 2)}`);
        print(items);
      }
      if (failed.length > 0) throw new ToolError(failed);
    });

  fsCmd
    .command('stat')
    .description("Show a file's type, mode, owner, size, times and the layer that serves it")
    .argument('<container>', 'container name or ID (a unique ID prefix will do)')
    .argument('<path...>', "paths in the container's merged view")
    .option('-L', 'follow symlinks')
    .option('--format <format>', 'json: one object per path; or a Go template over each path (.Name .Mode .Size …)')
    .action(async (c: string, paths: string[], opts: { L?: boolean; format?: string }) => {
      const template = await entryTemplate(opts.format);
      const { view: v, record } = await view(c);
      const { listed, statFields, statJson, statText } = await import('./fs-listing.js');
      const failed = await eachPath(
        paths,
        async (p) => {
          const stats = await (opts.L ? v.stat(inRoot(p)) : v.lstat(inRoot(p)));
          const item = await listed(v, p, inRoot(p), stats);
          if (template) template.print([statFields(item, record)]);
          else ctx.print(opts.format === 'json' ? JSON.stringify(statJson(item, record)) : statText(item, record));
        },
        (err, p) => `stat: can't stat '${p}': ${strerror(err)}`,
        { defer: true },
      );
      if (failed.length > 0) throw new ToolError(failed);
    });

  for (const verb of ['write', 'append'] as const) {
    fsCmd
      .command(verb)
      .description(verb === 'write' ? 'Replace a file with stdin (sh: cat > PATH)' : 'Append stdin to a file (sh: cat >> PATH)')
      .argument('<container>', 'container name or ID (a unique ID prefix will do)')
      .argument('<path>', "a path in the container's merged view")
      .action(
        batched(async (v: Resolver, _container: string, p: string) => {
          // Streamed from stdin to the file: the input is never held whole.
          const input = ctx.io.stdin as AsyncIterable<Buffer>;
          await eachPath(
            [p],
            (q) => (verb === 'write' ? v.writeFile(inRoot(q), input) : v.appendFile(inRoot(q), input)),
            (err, q) => `${verb}: can't create ${q}: ${shellCreateError(err)}`,
          );
        }),
      );
  }

  fsCmd
    .command('mkdir')
    .description('Create directories')
    .argument('<container>', 'container name or ID (a unique ID prefix will do)')
    .argument('<path...>', "paths in the container's merged view")
    .option('-p', 'create parents as needed; no error if the directory exists')
    .option('-m <mode>', 'octal mode of the new directories')
    .action(
      batched(async (v: Resolver, _container: string, paths: string[], opts: { p?: boolean; m?: string }) => {
        const mode = opts.m === undefined ? undefined : octalMode('mkdir', opts.m);
        await eachPath(
          paths,
          async (p) => {
            // As busybox and GNU mkdir: -m is the mode of the directory named, exactly (no
            // umask); parents -p creates get the default mode, and a directory that was
            // already there keeps its own.
            const existed =
              opts.p === true &&
              (await v.stat(inRoot(p)).then(
                (s) => s.type === 'dir',
                () => false,
              ));
            await v.mkdir(inRoot(p), { recursive: opts.p === true });
            if (mode !== undefined && !existed) await v.chmod(inRoot(p), mode);
          },
          (err, p) => `mkdir: can't create directory '${opts.p && err.path ? err.path : p}': ${strerror(err)}`,
        );
      }),
    );

  fsCmd
    .command('rm')
    .description('Remove files or directories')
    .argument('<container>', 'container name or ID (a unique ID prefix will do)')
    .argument('<path...>', "paths in the container's merged view")
    .option('-r', 'remove directories and their contents')
    .option('-f', 'ignore missing files')
    .action(
      batched(async (v: Resolver, _container: string, paths: string[], opts: { r?: boolean; f?: boolean }) => {
        const lines: string[] = [];
        for (const p of paths) await removePath(v, p, opts, lines);
        if (lines.length > 0) throw new ToolError(lines);
      }),
    );

  fsCmd
    .command('mv')
    .description('Move or rename; a directory of a lower layer is copied and deleted')
    .argument('<container>', 'container name or ID (a unique ID prefix will do)')
    .argument('<paths...>', 'SOURCE... DEST')
    .usage('[options] <container> <source...> <dest>')
    .action(
      batched(async (v: Resolver, _container: string, args: string[]) => {
        const [sources, dest] = splitLast('mv', args);
        const { moveInView } = await import('../container/copy.js');
        const destIsDir = await v.stat(inRoot(dest)).then(
          (s) => s.type === 'dir',
          () => false,
        );
        if (sources.length > 1 && !destIsDir) throw new ToolError([`mv: '${dest}' is not a directory`]);
        await eachPath(
          sources,
          (s) => moveInView(v, inRoot(s), destIsDir ? path.posix.join(inRoot(dest), path.posix.basename(s)) : inRoot(dest)),
          (err, s) => `mv: can't rename '${s}': ${strerror(err)}`,
        );
      }),
    );

  fsCmd
    .command('ln')
    .description('Make a hard link, or a symbolic link with -s')
    .argument('<container>', 'container name or ID (a unique ID prefix will do)')
    .argument('<paths...>', 'TARGET... LINK_NAME')
    .usage('[options] <container> <target...> <link>')
    .option('-s', 'make a symbolic link (its target is stored as given)')
    .action(
      batched(async (v: Resolver, _container: string, args: string[], opts: { s?: boolean }) => {
        const [targets, link] = splitLast('ln', args);
        const linkIsDir = await v.stat(inRoot(link)).then(
          (s) => s.type === 'dir',
          () => false,
        );
        if (targets.length > 1 && !linkIsDir) throw new ToolError([`ln: '${link}' is not a directory`]);
        const nameOf = (t: string) => (linkIsDir ? path.posix.join(link, path.posix.basename(t)) : link);
        await eachPath(
          targets,
          (t) => (opts.s ? v.symlink(t, inRoot(nameOf(t))) : v.link(inRoot(t), inRoot(nameOf(t)))),
          (err, t) => `ln: ${!opts.s && err.path === inRoot(t) ? t : nameOf(t)}: ${strerror(err)}`,
        );
      }),
    );

  fsCmd
    .command('chmod')
    .description('Change permission bits (octal mode)')
    .argument('<container>', 'container name or ID (a unique ID prefix will do)')
    .argument('<mode>', 'octal mode, e.g. 0644 or 4755')
    .argument('<path...>', "paths in the container's merged view")
    .action(
      batched(async (v: Resolver, _container: string, modeText: string, paths: string[]) => {
        const mode = octalMode('chmod', modeText);
        await eachPath(
          paths,
          (p) => v.chmod(inRoot(p), mode),
          (err, p) => `chmod: ${p}: ${strerror(err)}`,
        );
      }),
    );

  fsCmd
    .command('chown')
    .description('Change owner and group (numeric ids: UID, UID:GID, UID: or :GID)')
    .helpOption('--help', 'display help for command')
    .argument('<container>', 'container name or ID (a unique ID prefix will do)')
    .argument('<owner>', 'UID[:GID], numeric')
    .argument('<path...>', "paths in the container's merged view")
    .option('-h', 'change a symlink itself, not the file it points to')
    .action(
      batched(async (v: Resolver, _container: string, owner: string, paths: string[], opts: { h?: boolean }) => {
        const [uid, gid] = numericOwner(owner);
        await eachPath(
          paths,
          (p) => (opts.h ? v.lchown(inRoot(p), uid, gid) : v.chown(inRoot(p), uid, gid)),
          (err, p) => `chown: ${p}: ${strerror(err)}`,
        );
      }),
    );

  fsCmd
    .command('touch')
    .description('Update times, creating empty files that do not exist')
    .argument('<container>', 'container name or ID (a unique ID prefix will do)')
    .argument('<path...>', "paths in the container's merged view")
    .option('-c', 'do not create files')
    .action(
      batched(async (v: Resolver, _container: string, paths: string[], opts: { c?: boolean }) => {
        await eachPath(
          paths,
          async (p) => {
            const now = new Date();
            try {
              await v.utimes(inRoot(p), now, now);
            } catch (err) {
              if (!isFsError(err, 'ENOENT')) throw err;
              // open(O_CREAT) without O_TRUNC, as touch does: follows a dangling link to create its target.
              if (!opts.c) await v.appendFile(inRoot(p), '');
            }
          },
          (err, p) => `touch: ${p}: ${strerror(err)}`,
        );
      }),
    );

  fsCmd
    .command('truncate')
    .description('Shrink or extend files to a size, creating them if missing')
    .argument('<container>', 'container name or ID (a unique ID prefix will do)')
    .argument('<path...>', "paths in the container's merged view")
    .option('-s <size>', 'size in bytes, or with a K, M or G suffix (powers of 1024)', '0')
    .option('-c', 'do not create files')
    .action(
      batched(async (v: Resolver, _container: string, paths: string[], opts: { s: string; c?: boolean }) => {
        const size = parseSize(opts.s);
        await eachPath(
          paths,
          async (p) => {
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
          },
          (err, p) => `truncate: ${p}: open: ${strerror(err)}`,
        );
      }),
    );
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
    return fail(err, (e) =>
      e.code === 'ENOENT' ? `rm: can't remove '${shown}': ${strerror(e)}` : `rm: can't stat '${shown}': ${strerror(e)}`,
    );
  }
  if (stats.type !== 'dir') {
    return v.unlink(inRoot(shown)).then(
      () => true,
      (err) => fail(err, (e) => `rm: can't remove '${shown}': ${strerror(e)}`),
    );
  }
  if (!opts.r) {
    lines.push(`rm: '${shown}' is a directory`);
    return false;
  }
  let ok = true;
  for (const name of await v.readdir(inRoot(shown))) {
    ok = (await removePath(v, `${shown.replace(/\/+$/, '')}/${name}`, opts, lines)) && ok;
  }
  return v.rmdir(inRoot(shown)).then(
    () => ok,
    (err) => fail(err, (e) => `rm: can't remove '${shown}': ${strerror(e)}`),
  );
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

/** busybox's `user[:[group]]`, numbers only (no passwd lookup): -1 leaves an id as it is; `UID:` changes the owner alone. */
function numericOwner(text: string): [number, number] {
  const match = /^(\d*)(?::(\d*))?$/.exec(text);
  const [uidText = '', gidText = ''] = match === null ? [] : [match[1], match[2]];
  const id = (s: string) => (s === '' ? -1 : Number(s));
  if (match === null || (match[2] === undefined && uidText === '') || id(uidText) > 0xfffffffe || id(gidText) > 0xfffffffe)
    throw new ToolError([`chown: unknown user/group ${text}`]);
  return [id(uidText), id(gidText)];
}

const SIZE_SUFFIXES: Record<string, number> = { '': 1, k: 1024, K: 1024, m: 1024 ** 2, M: 1024 ** 2, g: 1024 ** 3, G: 1024 ** 3 };

function parseSize(text: string): number {
  const match = /^(\d+)([kKmMgG]?)$/.exec(text);
  if (match === null) throw new ToolError([`truncate: invalid number '${text}'`]);
  return Number(match[1]) * SIZE_SUFFIXES[match[2]!]!;
}
