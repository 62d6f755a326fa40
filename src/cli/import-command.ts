import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { StrataError } from '../errors.js';
import type { CliContext } from './context.js';

/** `strata import [-c INSTRUCTION]... [-m MESSAGE] FILE|- [REPOSITORY[:TAG]]`, as `docker import`. */
export function registerImportCommand(program: Command, ctx: CliContext): void {
  const image = program.commands.find((c) => c.name() === 'image');
  for (const parent of image ? [program, image] : [program]) {
    parent
      .command('import')
      .description('Import the contents from a tarball (plain, gzip or zstd) to create a filesystem image')
      .argument('<file|->', 'a rootfs tar, or - for STDIN')
      .argument('[repository[:tag]]', 'the reference to tag the new image with')
      .option(
        '-c, --change <instruction>',
        'apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR)',
        collect,
        [],
      )
      .option('-m, --message <text>', 'set the commit message for the imported image')
      .action(async (file: string, reference: string | undefined, opts: { change: string[]; message?: string }) => {
        const { importImage } = await import('../transfer/import.js');
        const store = await ctx.store();
        let input: { path: string } | { stream: Readable; displayName: string };
        if (file === '-') {
          if ((ctx.io.stdin as { isTTY?: boolean }).isTTY) {
            throw new StrataError('EUSAGE', 'requested import from stdin, but stdin is a terminal: pipe a tar in or name a file');
          }
          input = { stream: ctx.io.stdin as NodeJS.ReadableStream as Readable, displayName: '-' };
        } else {
          input = { path: file };
        }
        const image = await importImage(store, input, { changes: opts.change, message: opts.message, reference, signal: ctx.io.signal });
        ctx.print(image.id);
      });
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
