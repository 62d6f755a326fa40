import type { Command } from 'commander';
import { StrataError } from '../errors.js';
import { shortId } from '../content/digest.js';
import { loadImages } from '../image/load.js';
import { listImages, type ImageSummary } from '../image/list.js';
import { findImage } from '../image/lookup.js';
import { imageHistory, inspectImage } from '../image/inspect.js';
import { removeImage } from '../image/remove.js';
import { tagImage } from '../image/tag.js';
import { readTags, tagsOf } from '../image/tags.js';
import { normalizeReference } from '../image/reference.js';
import { DEFAULT_LIMITS } from '../layer/limits.js';
import type { CliContext } from './context.js';
import { ellipsis, humanSize, since } from './format.js';
import { eachName, printInspect, printListing } from './output.js';
import { loadProgress } from './progress.js';

export function registerImageCommands(program: Command, ctx: CliContext): void {
  const image = program.command('image').description('Manage images');

  for (const parent of [program, image]) {
    parent.command('load')
      .description('Load images from a tar archive (docker save or OCI layout; plain or gzip) or STDIN')
      .option('-i, --input <file>', 'read from a tar archive file instead of STDIN')
      .option('-q, --quiet', 'suppress the progress output')
      .option('--platform <os/arch[/variant]>', 'pick this platform from a multi-platform image')
      .option('--max-layer-entries <n>', 'refuse layers with more tar entries than this', toPositiveInt, DEFAULT_LIMITS.maxEntries)
      .option('--max-layer-size <bytes>', 'refuse layers that unpack to more bytes than this', toPositiveInt, DEFAULT_LIMITS.maxBytes)
      .action((opts) => load(ctx, opts));
  }

  program.command('images').description('List images')
    .argument('[repository]', 'only images of this repository (or repository:tag)');
  image.command('ls').alias('list').description('List images')
    .argument('[repository]', 'only images of this repository (or repository:tag)');
  for (const cmd of [program.commands.find((c) => c.name() === 'images')!, image.commands.find((c) => c.name() === 'ls')!]) {
    cmd.option('-a, --all', 'show all images (strata keeps no intermediate images, so the same list)')
      .option('-q, --quiet', 'only show image IDs')
      .option('--no-trunc', "don't truncate output")
      .option('--format <format>', 'json, table, or a Go template')
      .action((repository, opts) => images(ctx, repository, opts));
  }

  for (const [parent, name] of [[image, 'inspect']] as const) {
    parent.command(name).description('Display detailed information on one or more images')
      .argument('<image...>')
      .option('-f, --format <format>', 'format the output using a Go template')
      .action((names: string[], opts) => inspect(ctx, names, opts.format));
  }

  for (const parent of [program, image]) {
    parent.command('history').description('Show the history of an image')
      .argument('<image>')
      .option('-H, --human [bool]', 'print sizes and dates in human readable format', (v) => v !== 'false', true)
      .option('-q, --quiet', 'only show image IDs')
      .option('--no-trunc', "don't truncate output")
      .option('--format <format>', 'json, table, or a Go template')
      .action((name: string, opts) => history(ctx, name, opts));
    parent.command('tag').description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
      .argument('<source>').argument('<target>')
      .action(async (source: string, target: string) => tagImage(await ctx.store(), source, target));
  }
  for (const [parent, name] of [[program, 'rmi'], [image, 'rm']] as const) {
    parent.command(name).description('Remove one or more images')
      .argument('<image...>')
      .option('-f, --force', 'force removal of the image')
      .action((names: string[], opts) => rmi(ctx, names, opts.force === true));
  }
}

async function load(ctx: CliContext, opts: { input?: string; quiet?: boolean; platform?: string; maxLayerEntries: number; maxLayerSize: number }): Promise<void> {
  const store = await ctx.store();
  if (opts.input === undefined && (ctx.io.stdin as { isTTY?: boolean }).isTTY) {
    throw new StrataError('EUSAGE', 'requested load from stdin, but stdin is empty: use -i FILE or pipe an archive in');
  }
  const input = opts.input !== undefined ? { path: opts.input } : { stream: ctx.io.stdin as NodeJS.ReadableStream as import('node:stream').Readable, displayName: 'stdin' };
  const progress = loadProgress(ctx, opts.quiet);
  let loaded;
  try {
    loaded = await loadImages(store, input, {
      platform: opts.platform,
      limits: { maxEntries: opts.maxLayerEntries, maxBytes: opts.maxLayerSize },
      onEvent: progress?.onEvent,
      signal: ctx.io.signal,
    });
  } finally {
    progress?.stop();
  }
  // Like docker, -q hides progress only: the result lines are what scripts read.
  for (const image of loaded) {
    for (const { tag, previous } of image.retagged) {
      ctx.print(`The image ${tag} already exists, renaming the old one with ID ${previous} to empty string`);
    }
    if (image.repoTags.length === 0) ctx.print(`Loaded image ID: ${image.id}`);
    for (const tag of image.repoTags) ctx.print(`Loaded image: ${tag}`);
  }
}

interface ImagesOptions { quiet?: boolean; trunc: boolean; format?: string }

async function images(ctx: CliContext, repository: string | undefined, opts: ImagesOptions): Promise<void> {
  const store = await ctx.store();
  const rows = (await listImages(store)).flatMap(expandTags).filter((r) => matchesRepository(r, repository));
  const id = (r: Row) => (opts.trunc ? shortId(r.image.record.id) : r.image.record.id);
  const seen = new Set<string>();
  printListing(ctx, rows, opts, {
    headers: ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
    row: (r) => [r.repository, r.tag, id(r), since(r.image.record.created), humanSize(r.image.record.size, 3)],
    // docker images -q prints each image once, even when it has several tags.
    quiet: (r) => (seen.has(r.image.record.id) ? '' : (seen.add(r.image.record.id), id(r))),
    json: (r) => ({
      ID: r.image.record.id,
      Repository: r.repository,
      Tag: r.tag,
      Digest: '<none>',
      CreatedAt: r.image.record.created,
      CreatedSince: since(r.image.record.created),
      Size: r.image.record.size,
      Containers: r.image.containers,
    }),
    template: (r) => ({
      ID: id(r), Repository: r.repository, Tag: r.tag, Digest: '<none>', CreatedAt: r.image.record.created,
      CreatedSince: since(r.image.record.created), Size: humanSize(r.image.record.size, 3), Containers: String(r.image.containers),
    }),
  });
}

interface Row { image: ImageSummary; repository: string; tag: string }

function expandTags(image: ImageSummary): Row[] {
  if (image.repoTags.length === 0) return [{ image, repository: '<none>', tag: '<none>' }];
  return image.repoTags.map((ref) => {
    const { repository, tag } = normalizeReference(ref);
    return { image, repository, tag };
  });
}

function matchesRepository(row: Row, filter?: string): boolean {
  if (filter === undefined) return true;
  const [repo, tag] = filter.includes(':') ? [filter.slice(0, filter.lastIndexOf(':')), filter.slice(filter.lastIndexOf(':') + 1)] : [filter, undefined];
  return row.repository === normalizeReference(`${repo}:x`).repository && (tag === undefined || row.tag === tag);
}

async function inspect(ctx: CliContext, names: string[], format?: string): Promise<void> {
  const store = await ctx.store();
  const tags = await readTags(store);
  const objects = [];
  for (const name of names) {
    const record = await findImage(store, name);
    objects.push(await inspectImage(store, record, tagsOf(tags, record.id)));
  }
  printInspect(ctx, objects, format);
}

async function history(ctx: CliContext, name: string, opts: { human: boolean; quiet?: boolean; trunc: boolean; format?: string }): Promise<void> {
  const store = await ctx.store();
  const rows = await imageHistory(store, await findImage(store, name));
  const id = (r: { id: string }) => (r.id === '<missing>' || !opts.trunc ? r.id : shortId(r.id));
  printListing(ctx, rows, opts, {
    headers: ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
    row: (r) => [
      id(r),
      opts.human ? since(r.created) : r.created,
      opts.trunc ? ellipsis(r.createdBy.replace(/\s+/g, ' '), 45) : r.createdBy,
      opts.human ? humanSize(r.size, 3) : String(r.size),
      r.comment,
    ],
    quiet: (r) => id(r),
    json: (r) => ({ ID: r.id, CreatedAt: r.created, CreatedSince: since(r.created), CreatedBy: r.createdBy, Size: r.size, Comment: r.comment }),
    template: (r) => ({
      ID: id(r), CreatedAt: r.created, CreatedSince: since(r.created),
      CreatedBy: opts.trunc ? ellipsis(r.createdBy, 45) : r.createdBy, Size: humanSize(r.size, 3), Comment: r.comment,
    }),
  });
}

async function rmi(ctx: CliContext, names: string[], force: boolean): Promise<void> {
  const store = await ctx.store();
  await eachName(ctx, names, async (name) => {
    for (const event of await removeImage(store, name, { force })) {
      ctx.print(event.type === 'untagged' ? `Untagged: ${event.ref}` : `Deleted: ${event.id}`);
    }
  });
}

function toPositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new StrataError('EUSAGE', `expected a positive whole number, got ${JSON.stringify(value)}`);
  return n;
}
