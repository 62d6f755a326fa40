import { StrataError } from '../errors.js';
import { shortId } from '../content/digest.js';
import { FilterArgs } from '../filter-args.js';
import { selectImages } from '../image/filter.js';
import { listImages, withContainerCounts, type ImageSummary } from '../image/list.js';
import { listContainerRecords } from '../container/record.js';
import { findImage } from '../image/lookup.js';
import { imageHistory, inspectImage } from '../image/inspect.js';
import { removeImage } from '../gc/remove-image.js';
import { readTags, tagsOf } from '../image/tags.js';
import { normalizeReference } from '../image/reference.js';
import type { CliContext } from './context.js';
import { ellipsis, humanSize, rfc3339, since } from './format.js';
import { HISTORY_HEADERS, IMAGE_HEADERS, imageContext } from './docker-context.js';
import { eachName, printInspect, printListing } from './output.js';

/** What the image commands do; image-commands.ts defines them and loads this when one runs. */

export async function load(
  ctx: CliContext,
  opts: { input?: string; quiet?: boolean; platform?: string; maxLayerEntries: number; maxLayerSize: number },
): Promise<void> {
  // Loaded here, not at the top: `images`, `inspect` and the rest do not pay for the whole load pipeline.
  const [store, { loadImages }, { loadProgress }] = await Promise.all([
    ctx.store(),
    import('../transfer/load.js'),
    import('./progress.js'),
  ]);
  if (opts.input === undefined && (ctx.io.stdin as { isTTY?: boolean }).isTTY) {
    throw new StrataError('EUSAGE', 'requested load from stdin, but stdin is empty: use -i FILE or pipe an archive in');
  }
  const input =
    opts.input !== undefined
      ? { path: opts.input }
      : { stream: ctx.io.stdin as NodeJS.ReadableStream as import('node:stream').Readable, displayName: 'stdin' };
  const progress = loadProgress(ctx, opts.quiet);
  let loaded;
  try {
    loaded = await loadImages(store, input, {
      platform: opts.platform,
      limits: { maxEntries: opts.maxLayerEntries, maxBytes: opts.maxLayerSize },
      onEvent: progress?.onEvent,
      signal: ctx.io.signal,
      workers: ctx.environment.importWorkers,
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

export interface ImagesOptions {
  quiet?: boolean;
  trunc: boolean;
  format?: string;
  digests?: boolean;
  filter?: FilterArgs;
}

export async function images(ctx: CliContext, repository: string | undefined, opts: ImagesOptions): Promise<void> {
  const store = await ctx.store();
  // As docker/cli: `images REPO[:TAG]` is one more `reference=` filter.
  const filters = opts.filter ?? new FilterArgs();
  if (repository !== undefined && repository !== '') filters.add('reference', repository);
  const rows = withContainerCounts(await selectImages(store, await listImages(store), filters), await listContainerRecords(store)).flatMap(
    expandTags,
  );
  const id = (r: Row) => (opts.trunc ? shortId(r.image.record.id) : r.image.record.id);
  // docker/cli shows a repo digest only when asked (--digests, or .Digest in the template).
  const withDigest = opts.digests === true || (opts.format ?? '').includes('{{.Digest}}');
  // The digest the row's repository knows the image by (a pull's RepoDigests), else the manifest's.
  const repoDigest = (r: Row) => r.image.record.repoDigests?.find((d) => d.startsWith(`${r.repository}@`))?.slice(r.repository.length + 1);
  const digest = (r: Row) => (withDigest && r.tag !== '<none>' ? (repoDigest(r) ?? r.image.record.manifestDigest ?? '<none>') : '<none>');
  const seen = new Set<string>();
  const headers = ['REPOSITORY', 'TAG', ...(opts.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
  // A table template given with --digests gets the column appended, as docker/cli does.
  const custom = opts.format?.startsWith('table') && opts.format.trim() !== 'table';
  const format = opts.digests && custom && !opts.format!.includes('{{.Digest}}') ? `${opts.format}\t{{.Digest}}` : opts.format;
  printListing(
    ctx,
    rows,
    { ...opts, format },
    {
      headers,
      row: (r) => [
        r.repository,
        r.tag,
        ...(opts.digests ? [digest(r)] : []),
        id(r),
        since(r.image.record.created),
        humanSize(r.image.record.size, 3),
      ],
      // docker images -q prints each image once, even when it has several tags.
      quiet: (r) => {
        if (seen.has(r.image.record.id)) return '';
        seen.add(r.image.record.id);
        return id(r);
      },
      json: (r) => ({
        ID: r.image.record.id,
        Repository: r.repository,
        Tag: r.tag,
        Digest: digest(r),
        CreatedAt: r.image.record.created,
        CreatedSince: since(r.image.record.created),
        Size: r.image.record.size,
        Containers: r.image.containers,
      }),
      template: (r) =>
        imageContext({
          id: r.image.record.id,
          repository: r.repository,
          tag: r.tag,
          created: r.image.record.created,
          size: r.image.record.size,
          trunc: opts.trunc,
          digest: digest(r),
        }),
      templateOptions: { typeName: 'image', headers: IMAGE_HEADERS },
    },
  );
}

interface Row {
  image: ImageSummary & { containers: number };
  repository: string;
  tag: string;
}

function expandTags(image: ImageSummary & { containers: number }): Row[] {
  if (image.repoTags.length === 0) return [{ image, repository: '<none>', tag: '<none>' }];
  return image.repoTags.map((ref) => {
    const { repository, tag } = normalizeReference(ref);
    return { image, repository, tag };
  });
}

export async function inspect(ctx: CliContext, names: string[], format?: string): Promise<void> {
  const store = await ctx.store();
  const tags = await readTags(store);
  const objects = [];
  for (const name of names) {
    const record = await findImage(store, name);
    objects.push(await inspectImage(store, record, tagsOf(tags, record.id)));
  }
  printInspect(ctx, objects, format);
}

export async function history(
  ctx: CliContext,
  name: string,
  opts: { human: boolean; quiet?: boolean; trunc: boolean; format?: string },
): Promise<void> {
  const store = await ctx.store();
  const rows = await imageHistory(store, await findImage(store, name));
  const id = (r: { id: string }) => (r.id === '<missing>' || !opts.trunc ? r.id : shortId(r.id));
  // docker/cli: tabs become spaces (a tab would break the table), other spacing stays.
  const createdBy = (r: { createdBy: string }) =>
    opts.trunc ? ellipsis(r.createdBy.replaceAll('\t', ' '), 45) : r.createdBy.replaceAll('\t', ' ');
  const created = (r: { created: string }) => (opts.human ? since(r.created) : rfc3339(r.created));
  const size = (r: { size: number }) => (opts.human ? humanSize(r.size, 3) : String(r.size));
  printListing(ctx, rows, opts, {
    headers: ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
    row: (r) => [id(r), created(r), createdBy(r), size(r), r.comment],
    quiet: (r) => id(r),
    json: (r) => ({
      ID: r.id,
      CreatedAt: r.created,
      CreatedSince: since(r.created),
      CreatedBy: r.createdBy,
      Size: r.size,
      Comment: r.comment,
      Layer: r.layer,
    }),
    // docker/cli's historyContext, keys sorted as it marshals them.
    template: (r) => ({
      Comment: r.comment,
      CreatedAt: rfc3339(r.created),
      CreatedBy: createdBy(r),
      CreatedSince: created(r),
      ID: id(r),
      Size: size(r),
    }),
    templateOptions: { typeName: 'history entry', headers: HISTORY_HEADERS },
  });
}

export async function rmi(ctx: CliContext, names: string[], force: boolean): Promise<void> {
  const store = await ctx.store();
  await eachName(ctx, names, async (name) => {
    for (const event of await removeImage(store, name, { force })) {
      ctx.print(event.type === 'untagged' ? `Untagged: ${event.ref}` : `Deleted: ${event.id}`);
    }
  });
}
