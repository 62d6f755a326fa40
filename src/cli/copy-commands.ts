import type { Command } from 'commander';
import type { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import type { CopyResult } from '../container/copy.js';
import type { CliContext } from './context.js';
import { humanSize } from './format.js';

export function registerCopyCommands(program: Command, ctx: CliContext): void {
  const container = program.commands.find((c) => c.name() === 'container');
  for (const parent of container === undefined ? [program] : [program, container]) {
    parent
      .command('cp')
      .description("Copy files between a container's merged view and the host; '-' is a tar on stdin or stdout")
      .usage('[options] CONTAINER:SRC_PATH DEST_PATH|-\n       strata cp [options] SRC_PATH|- CONTAINER:DEST_PATH')
      .argument('<src>', 'CONTAINER:PATH, a host path, or - for a tar on stdin')
      .argument('<dest>', 'CONTAINER:PATH, a host path, or - for a tar on stdout')
      .option('-L, --follow-link', 'always follow a symbolic link in SRC_PATH')
      .action((src: string, dest: string, opts: { followLink?: boolean }) => cp(ctx, src, dest, opts));
    parent
      .command('export')
      .description("Export a container's merged view (without its volumes and tmpfs mounts) as a tar archive")
      .argument('<container>', 'container name or ID (a unique ID prefix will do)')
      .option('-o, --output <file>', 'write to a file (atomically) instead of STDOUT')
      .action(async (name: string, opts: { output?: string }) => {
        const store = await ctx.store();
        const [{ findContainer }, { exportContainer, exportContainerToFile }] = await Promise.all([
          import('../container/lookup.js'),
          import('../container/export.js'),
        ]);
        const record = await findContainer(store, name);
        const options = { signal: ctx.io.signal };
        if (opts.output !== undefined) {
          warnSkipped(ctx, await exportContainerToFile(store, record, opts.output, options));
          return;
        }
        if (ctx.io.stdout.isTTY) throw new StrataError('EUSAGE', 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
        warnSkipped(ctx, await exportContainer(store, record, ctx.io.stdout, options));
      });
  }
}

/**
 * docker's splitCpArg: an absolute path, or one starting with `.`, is local even with
 * a colon in it; otherwise `NAME:PATH` names a container path. The container path is
 * relative to the container's root.
 */
function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/')) return { path: arg };
  const colon = arg.indexOf(':');
  if (colon < 0 || arg.startsWith('.')) return { path: arg };
  const inside = arg.slice(colon + 1);
  return { container: arg.slice(0, colon), path: inside.startsWith('/') ? inside : `/${inside}` };
}

async function cp(ctx: CliContext, srcArg: string, destArg: string, opts: { followLink?: boolean }): Promise<void> {
  const src = splitCpArg(srcArg);
  const dest = splitCpArg(destArg);
  if (src.container !== undefined && dest.container !== undefined)
    throw new StrataError('EUSAGE', 'copying between containers is not supported');
  if (src.container === undefined && dest.container === undefined)
    throw new StrataError('EUSAGE', 'must specify at least one container source');
  const store = await ctx.store();
  const [{ findContainer }, { containerView }, { archiveFromView, copyFromView, copyToView, extractToView }] = await Promise.all([
    import('../container/lookup.js'),
    import('../container/view.js'),
    import('../container/copy.js'),
  ]);
  const options = { followLink: opts.followLink === true, signal: ctx.io.signal };
  let result: CopyResult;
  if (src.container !== undefined) {
    const view = await containerView(store, await findContainer(store, src.container));
    result =
      dest.path === '-'
        ? await archiveFromView(view, src.path, ctx.io.stdout, options)
        : await copyFromView(view, src.path, dest.path, options);
  } else {
    // Both copy as one batch under the container's lock (src/container/copy.ts).
    const view = await containerView(store, await findContainer(store, dest.container!));
    result =
      src.path === '-'
        ? await extractToView(view, ctx.io.stdin as Readable, dest.path, options)
        : await copyToView(view, src.path, dest.path, options);
  }
  warnSkipped(ctx, result);
  // docker prints this only for a person watching; scripts get silence.
  if (ctx.io.stderr.isTTY && dest.path !== '-') ctx.io.stderr.write(`Successfully copied ${humanSize(result.bytes)} to ${destArg}\n`);
}

function warnSkipped(ctx: CliContext, result: CopyResult): void {
  for (const s of result.skipped) ctx.io.stderr.write(`strata: warning: skipped ${s.path} (${s.type}): ${s.reason}\n`);
}
