import type { Command } from 'commander';
import { StrataError } from '../errors.js';
import { DEFAULT_LIMITS } from '../layer/limits.js';
import type { CliContext } from './context.js';
import { collectFilter } from './filters.js';
import { parseGoBool } from './go-flags.js';

/** What the commands do (image-actions.ts) loads when one runs, not when they are defined. */
const actions = () => import('./image-actions.js');

export function registerImageCommands(program: Command, ctx: CliContext): void {
  const image = program.command('image').description('Manage images');

  for (const parent of [program, image]) {
    parent
      .command('load')
      .description(
        'Load images from a tar archive (docker save or OCI layout; plain, gzip or zstd; layers plain, gzip or zstd), an OCI image layout directory, or STDIN',
      )
      .option('-i, --input <path>', 'read from a tar archive file, or an OCI image layout directory, instead of STDIN')
      .option('-q, --quiet', 'suppress the progress output')
      .option('--platform <os/arch[/variant]>', 'pick this platform from a multi-platform image')
      .option('--max-layer-entries <n>', 'refuse layers with more tar entries than this', toPositiveInt, DEFAULT_LIMITS.maxEntries)
      .option('--max-layer-size <bytes>', 'refuse layers that unpack to more bytes than this', toPositiveInt, DEFAULT_LIMITS.maxBytes)
      .action(async (opts) => (await actions()).load(ctx, opts));
  }

  program
    .command('images')
    .description('List images')
    .argument('[repository]', 'only images of this repository (or repository:tag); a pattern as in --filter reference=');
  image
    .command('ls')
    .alias('list')
    .description('List images')
    .argument('[repository]', 'only images of this repository (or repository:tag); a pattern as in --filter reference=');
  for (const cmd of [program.commands.find((c) => c.name() === 'images')!, image.commands.find((c) => c.name() === 'ls')!]) {
    cmd
      .option('-a, --all', 'show all images (strata keeps no intermediate images, so the same list)')
      .option('-q, --quiet', 'only show image IDs')
      .option('--no-trunc', "don't truncate output")
      .option('--digests', 'show digests (the manifest digest recorded when the image was loaded)')
      .option(
        '-f, --filter <filter>',
        'filter output based on conditions provided (dangling, reference, label, before, since)',
        collectFilter,
      )
      .option('--format <format>', 'json, table, or a Go template')
      .action(async (repository, opts) => (await actions()).images(ctx, repository, opts));
  }

  for (const [parent, name] of [[image, 'inspect']] as const) {
    parent
      .command(name)
      .description('Display detailed information on one or more images')
      .argument('<image...>', 'images, each by name[:tag] or ID')
      .option('-f, --format <format>', 'format the output using a Go template')
      .action(async (names: string[], opts) => (await actions()).inspect(ctx, names, opts.format));
  }

  for (const parent of [program, image]) {
    parent
      .command('history')
      .description('Show the history of an image')
      .argument('<image>', 'image name[:tag] or ID')
      .option(
        '-H, --human [bool]',
        'print sizes and dates in human readable format (-H=false: RFC 3339 dates, sizes in bytes)',
        parseGoBool,
        true,
      )
      .option('-q, --quiet', 'only show image IDs')
      .option('--no-trunc', "don't truncate output")
      .option('--format <format>', 'json, table, or a Go template')
      .action(async (name: string, opts) => (await actions()).history(ctx, name, opts));
    parent
      .command('tag')
      .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
      .argument('<source>', 'the image to name: name[:tag] or ID')
      .argument('<target>', 'the new name[:tag]')
      .action(async (source: string, target: string) => (await import('../image/tag.js')).tagImage(await ctx.store(), source, target));
  }
  for (const [parent, name] of [
    [program, 'rmi'],
    [image, 'rm'],
  ] as const) {
    parent
      .command(name)
      .description('Remove one or more images')
      .argument('<image...>', 'images, each by name[:tag] or ID')
      .option('-f, --force', 'force removal of the image')
      .action(async (names: string[], opts) => (await actions()).rmi(ctx, names, opts.force === true));
  }
}

export function toPositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new StrataError('EUSAGE', `expected a positive whole number, got ${JSON.stringify(value)}`);
  return n;
}
