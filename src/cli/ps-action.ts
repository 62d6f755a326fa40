import { selectContainers } from '../container/filter.js';
import { listContainerRecords, type ContainerRecord } from '../container/record.js';
import { finishOrphans } from '../run/orphans.js';
import { listImageRecords, type ImageRecord } from '../image/record.js';
import type { FilterArgs } from '../filter-args.js';
import type { ContainerUsage } from '../usage/container-usage.js';
import { UsageMeter } from '../usage/usage-meter.js';
import type { CliContext } from './context.js';
import { containerStatus, ellipsis, humanSize, since } from './format.js';
import { CONTAINER_HEADERS, containerContext, containerLabels } from './docker-context.js';
import { isTemplate, printListing, templateReads } from './output.js';

/**
 * `strata ps`: apart from the other container commands, so the commonest one loads
 * only what listing needs (creating or diffing a container loads the layer code).
 */

export interface PsOptions {
  all?: boolean;
  quiet?: boolean;
  trunc: boolean;
  size?: boolean;
  cache: boolean;
  format?: string;
  filter?: FilterArgs;
  last: number;
  latest?: boolean;
}

export async function ps(ctx: CliContext, opts: PsOptions): Promise<void> {
  const store = await ctx.store();
  // docker/cli: -l is -n 1 unless -n was given.
  const limit = opts.latest && opts.last === -1 ? 1 : opts.last;
  // A run whose supervisor died is finished first, so its status is the real one.
  const records = await selectContainers(store, await finishOrphans(store, await listContainerRecords(store)), {
    all: opts.all,
    limit,
    filters: opts.filter,
  });
  // Sizes may cost a walk of each upper dir: only with -s, as in docker. Cached where still valid, as in df.
  const sizes = new Map<string, { usage: ContainerUsage; virtual: number }>();
  // As docker/cli: a template that shows Size (or every field, `{{json .}}`) measures sizes too.
  const template = isTemplate(opts.format) ? opts.format : undefined;
  const wantsSizes = (opts.size || (template !== undefined && templateReads(template, 'Size'))) && !opts.quiet;
  const wantsLabels = template !== undefined && templateReads(template, 'Labels');
  const imageRecords =
    wantsSizes || wantsLabels ? new Map((await listImageRecords(store)).map((i) => [i.id, i])) : new Map<string, ImageRecord>();
  if (wantsSizes) {
    const images = new Map([...imageRecords.values()].map((i) => [i.id, i.size]));
    const usages = await new UsageMeter(store, { noCache: !opts.cache }).all(records);
    for (const [i, c] of records.entries()) sizes.set(c.id, { usage: usages[i]!, virtual: usages[i]!.sizeRw + (images.get(c.image) ?? 0) });
  }
  const sizeText = (c: ContainerRecord) => {
    const s = sizes.get(c.id)!;
    return `${humanSize(s.usage.sizeRw, 3)} (virtual ${humanSize(s.virtual, 3)})`;
  };
  const id = (c: ContainerRecord) => (opts.trunc ? c.id.slice(0, 12) : c.id);
  const command = (c: ContainerRecord) => {
    const text = c.command.join(' ');
    return `"${opts.trunc ? ellipsis(text, 20) : text}"`;
  };
  const labels = wantsLabels
    ? await containerLabels(store, records, [...imageRecords.values()])
    : new Map<string, Record<string, string>>();
  const headers = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'];
  printListing(ctx, records, opts, {
    headers: opts.size ? [...headers, 'SIZE'] : headers,
    row: (c) => [id(c), c.imageRef, command(c), since(c.created), containerStatus(c), '', c.name, ...(opts.size ? [sizeText(c)] : [])],
    quiet: id,
    json: (c) => ({
      ID: c.id,
      Names: c.name,
      Image: c.imageRef,
      ImageID: c.image,
      Command: command(c),
      CreatedAt: c.created,
      RunningFor: since(c.created),
      State: c.state.status,
      Status: containerStatus(c),
      Mounts: mountNames(c),
      LocalVolumes: c.mounts.filter((m) => m.type === 'volume').length,
      ...(sizes.has(c.id)
        ? {
            Size: sizes.get(c.id)!.usage.sizeRw,
            VirtualSize: sizes.get(c.id)!.virtual,
            CopiedUp: sizes.get(c.id)!.usage.copiedUp,
            Hidden: sizes.get(c.id)!.usage.hidden,
          }
        : {}),
    }),
    template: (c) =>
      containerContext(c, {
        trunc: opts.trunc,
        sizeRw: sizes.get(c.id)?.usage.sizeRw,
        sizeRootFs: sizes.get(c.id)?.virtual,
        labels: labels.get(c.id),
      }),
    templateOptions: { typeName: 'container', headers: CONTAINER_HEADERS },
  });
}

function mountNames(c: ContainerRecord): string {
  return c.mounts.map((m) => (m.type === 'volume' ? ellipsis(m.name, 15) : m.type === 'bind' ? m.source : m.destination)).join(',');
}
