import type { Store } from '../store/root.js';
import { isStrataError } from '../errors.js';
import { familiarName } from '../image/reference.js';
import { diskUsage, type DiskUsage, type SummaryRow } from '../usage/df.js';
import type { UsageBreakdown } from '../usage/layer-breakdown.js';
import type { CliContext } from './context.js';
import { containerStatus, ellipsis, humanSize, since, table } from './format.js';
import { dfProgress } from './progress.js';

/** What `system df` and `du` do; usage-commands.ts defines them and loads this when one runs. */

export async function df(ctx: CliContext, opts: { verbose?: boolean; format?: string; cache: boolean }): Promise<void> {
  const store = await ctx.store();
  const progress = dfProgress(ctx, opts.format !== undefined);
  const usage = await diskUsage(store, { onProgress: progress?.update, noCache: !opts.cache }).finally(() => progress?.stop());
  if (opts.format === 'json') ctx.print(opts.verbose ? JSON.stringify(verboseJson(usage)) : usage.summary.map((r) => JSON.stringify(summaryJson(r))).join('\n'));
  else ctx.io.stdout.write(opts.verbose ? verboseText(usage) : summaryText(usage));
}

export async function du(ctx: CliContext, name: string, opts: { format?: string }): Promise<void> {
  const store = await ctx.store();
  const breakdown = await breakdownOf(store, name);
  if (opts.format === 'json') ctx.print(JSON.stringify(breakdown));
  else ctx.io.stdout.write(breakdownText(breakdown));
}

async function breakdownOf(store: Store, name: string): Promise<UsageBreakdown> {
  // du walks whole merged views: what it needs is loaded here, not for df.
  const [{ findContainer }, { findImage }, { readImageRecord }, { containerBreakdown, imageBreakdown }] = await Promise.all([
    import('../container/lookup.js'), import('../image/lookup.js'), import('../image/record.js'), import('../usage/layer-breakdown.js'),
  ]);
  try {
    const record = await findContainer(store, name);
    return await containerBreakdown(store, record, await readImageRecord(store, record.image));
  } catch (err) {
    if (!isStrataError(err, 'ENOTFOUND')) throw err;
  }
  return imageBreakdown(store, await findImage(store, name));
}

/** Docker's RECLAIMABLE: `1.984MB (2%)`, without a percentage when there is nothing at all. */
function reclaimable(row: SummaryRow): string {
  return row.size > 0 ? `${humanSize(row.reclaimable)} (${Math.floor((100 * row.reclaimable) / row.size)}%)` : humanSize(row.reclaimable);
}

function summaryText(usage: DiskUsage): string {
  return table([
    ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
    ...usage.summary.map((r) => [r.type, String(r.total), String(r.active), humanSize(r.size), reclaimable(r)]),
  ]) + beyondDocker(usage);
}

/** What Docker does not say, after its table. */
function beyondDocker(usage: DiskUsage): string {
  const imagesTotal = usage.images.reduce((sum, i) => sum + i.size, 0);
  const dockerReclaimable = usage.summary[0]!.reclaimable;
  const reclaimable = usage.unusedLayersSize === dockerReclaimable ? ''
    : `Unused images: ${humanSize(usage.unusedLayersSize)} of layers no container's image holds (what rmi of unused images and gc free; Docker's RECLAIMABLE above counts ${humanSize(dockerReclaimable)})\n`;
  return `\nShared layers: ${humanSize(imagesTotal)} of image content stored as ${humanSize(usage.layersSize)} (${humanSize(usage.savedBySharing)} saved by sharing)\n` +
    `Copy-up: ${humanSize(usage.copiedUp)} of container data duplicates lower files\n` +
    `Hidden: ${humanSize(usage.hidden)} of image content is masked by whiteouts and overwrites\n` + reclaimable;
}

function verboseText(usage: DiskUsage): string {
  const images = table([
    ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'],
    ...usage.images.sort((a, b) => b.image.created.localeCompare(a.image.created)).map((i) => {
      const [repository, tag] = repoAndTag(i.repoTags[0]);
      return [repository, tag, i.image.id.slice(7, 19), since(i.image.created), humanSize(i.size), humanSize(i.sharedSize), humanSize(i.uniqueSize), String(i.containers)];
    }),
  ]);
  const containers = table([
    ['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'],
    ...usage.containers.sort((a, b) => b.record.created.localeCompare(a.record.created)).map((c) => [
      c.record.id.slice(0, 12), c.record.imageRef, `"${ellipsis(c.record.command.join(' '), 20)}"`,
      String(c.record.mounts.filter((m) => m.type === 'volume').length), humanSize(c.usage.sizeRw, 3), since(c.record.created), containerStatus(c.record), c.record.name,
    ]),
  ]);
  const volumes = table([['VOLUME NAME', 'LINKS', 'SIZE'], ...usage.volumes.map((v) => [v.name, String(v.links), humanSize(v.size)])]);
  return `Images space usage:\n\n${images}\nContainers space usage:\n\n${containers}\nLocal Volumes space usage:\n\n${volumes}\nBuild cache usage: 0B\n\n${table([['CACHE ID', 'CACHE TYPE', 'SIZE', 'CREATED', 'LAST USED', 'USAGE', 'SHARED']])}${beyondDocker(usage)}`;
}

function repoAndTag(ref?: string): [string, string] {
  if (!ref) return ['<none>', '<none>'];
  const familiar = familiarName(ref);
  const colon = familiar.lastIndexOf(':');
  return [familiar.slice(0, colon), familiar.slice(colon + 1)];
}

function summaryJson(r: SummaryRow): object {
  return { Type: r.type, TotalCount: r.total, Active: r.active, Size: r.size, Reclaimable: r.reclaimable };
}

/** Docker's `system df -v --format json` shape, with integer byte sizes and strata's extra totals. */
function verboseJson(usage: DiskUsage): object {
  return {
    Images: usage.images.map((i) => {
      const [repository, tag] = repoAndTag(i.repoTags[0]);
      return { Repository: repository, Tag: tag, ID: i.image.id, CreatedAt: i.image.created, Size: i.size, SharedSize: i.sharedSize, UniqueSize: i.uniqueSize, Containers: i.containers };
    }),
    Containers: usage.containers.map((c) => ({
      ID: c.record.id, Names: c.record.name, Image: c.record.imageRef, CreatedAt: c.record.created, State: c.record.state.status,
      Size: c.usage.sizeRw, CopiedUp: c.usage.copiedUp, Hidden: c.usage.hidden, LocalVolumes: c.record.mounts.filter((m) => m.type === 'volume').length,
    })),
    Volumes: usage.volumes.map((v) => ({ Name: v.name, Links: v.links, Size: v.size })),
    BuildCache: [],
    LayersSize: usage.layersSize,
    SavedBySharing: usage.savedBySharing,
    CopiedUp: usage.copiedUp,
    Hidden: usage.hidden,
    UnusedLayersSize: usage.unusedLayersSize,
  };
}

function breakdownText(b: UsageBreakdown): string {
  let out = table([
    ['LAYER', 'SIZE', 'VISIBLE', 'HIDDEN'],
    ...[...b.layers].reverse().map((l) => [l.diffId.slice(7, 19), humanSize(l.size), humanSize(l.visible), humanSize(l.hidden)]),
  ]);
  if (b.upper) {
    const u = b.upper;
    out += `\nUPPER: ${humanSize(u.sizeRw)} — new ${humanSize(u.added)} in ${u.entries.added} files, copied up ${humanSize(u.copiedUp)} in ${u.entries.copiedUp} files, ${u.entries.whiteouts} whiteouts hiding ${humanSize(u.hidden)}\n`;
  }
  return out;
}
