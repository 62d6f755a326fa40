import type { Store } from '../store/root.js';
import { isStrataError } from '../errors.js';
import { familiarName } from '../image/reference.js';
import { diskUsage, type DiskUsage, type SummaryRow } from '../usage/df.js';
import type { UsageBreakdown } from '../usage/layer-breakdown.js';
import type { CliContext } from './context.js';
import { containerStatus, ellipsis, humanSize, since, table } from './format.js';
import { containerContext, containerLabels, imageContext, volumeContext } from './docker-context.js';
import { isTemplate, printTemplate } from './output.js';
import { dfProgress } from './progress.js';
import { compileTemplate } from './template.js';

/** What `system df` and `du` do; usage-commands.ts defines them and loads this when one runs. */

export async function df(ctx: CliContext, opts: { verbose?: boolean; format?: string; cache: boolean }): Promise<void> {
  // A bad template fails before the walk, as docker parses it before asking the daemon.
  const template = isTemplate(opts.format)
    ? compileTemplate(opts.format, { typeName: opts.verbose ? 'disk usage' : 'disk usage row', headers: { TotalCount: 'TOTAL' } })
    : undefined;
  const store = await ctx.store();
  const progress = dfProgress(ctx, opts.format !== undefined);
  const usage = await diskUsage(store, { onProgress: progress?.update, noCache: !opts.cache }).finally(() => progress?.stop());
  if (template && opts.verbose) {
    // docker/cli runs a -v template once over all four lists, and adds no newline.
    ctx.io.stdout.write(template.render(await verboseContext(store, usage)));
  } else if (template) {
    printTemplate(ctx, template, usage.summary.map(summaryContext));
  } else if (opts.format === 'json')
    ctx.print(opts.verbose ? JSON.stringify(verboseJson(usage)) : usage.summary.map((r) => JSON.stringify(summaryJson(r))).join('\n'));
  else ctx.io.stdout.write(opts.verbose ? verboseText(usage) : summaryText(usage));
}

export async function du(ctx: CliContext, name: string, opts: { format?: string }): Promise<void> {
  const template = isTemplate(opts.format) ? compileTemplate(opts.format, { typeName: 'usage' }) : undefined;
  const store = await ctx.store();
  const breakdown = await breakdownOf(store, name);
  if (template) printTemplate(ctx, template, [breakdownContext(breakdown)]);
  else if (opts.format === 'json') ctx.print(JSON.stringify(breakdown));
  else ctx.io.stdout.write(breakdownText(breakdown));
}

async function breakdownOf(store: Store, name: string): Promise<UsageBreakdown> {
  // du walks whole merged views: what it needs is loaded here, not for df.
  const [{ findContainer }, { findImage }, { readImageRecord }, { containerBreakdown, imageBreakdown }] = await Promise.all([
    import('../container/lookup.js'),
    import('../image/lookup.js'),
    import('../image/record.js'),
    import('../usage/layer-breakdown.js'),
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
  return (
    table([
      ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
      ...usage.summary.map((r) => [r.type, String(r.total), String(r.active), humanSize(r.size), reclaimable(r)]),
    ]) + beyondDocker(usage)
  );
}

/** What Docker does not say, after its table. */
function beyondDocker(usage: DiskUsage): string {
  const imagesTotal = usage.images.reduce((sum, i) => sum + i.size, 0);
  const dockerReclaimable = usage.summary[0]!.reclaimable;
  const reclaimable =
    usage.unusedLayersSize === dockerReclaimable
      ? ''
      : `Unused images: ${humanSize(usage.unusedLayersSize)} of layers no container's image holds (what rmi of unused images and gc free; Docker's RECLAIMABLE above counts ${humanSize(dockerReclaimable)})\n`;
  return (
    `\nShared layers: ${humanSize(imagesTotal)} of image content stored as ${humanSize(usage.layersSize)} (${humanSize(usage.savedBySharing)} saved by sharing)\n` +
    `Copy-up: ${humanSize(usage.copiedUp)} of container data duplicates lower files\n` +
    `Hidden: ${humanSize(usage.hidden)} of image content is masked by whiteouts and overwrites\n` +
    reclaimable
  );
}

function verboseText(usage: DiskUsage): string {
  const images = table([
    ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'],
    ...usage.images
      .sort((a, b) => b.image.created.localeCompare(a.image.created))
      .map((i) => {
        const [repository, tag] = repoAndTag(i.repoTags[0]);
        return [
          repository,
          tag,
          i.image.id.slice(7, 19),
          since(i.image.created),
          humanSize(i.size),
          humanSize(i.sharedSize),
          humanSize(i.uniqueSize),
          String(i.containers),
        ];
      }),
  ]);
  const containers = table([
    ['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'],
    ...usage.containers
      .sort((a, b) => b.record.created.localeCompare(a.record.created))
      .map((c) => [
        c.record.id.slice(0, 12),
        c.record.imageRef,
        `"${ellipsis(c.record.command.join(' '), 20)}"`,
        String(c.record.mounts.filter((m) => m.type === 'volume').length),
        humanSize(c.usage.sizeRw, 3),
        since(c.record.created),
        containerStatus(c.record),
        c.record.name,
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

/** docker/cli's diskUsage row context (`system df --format`): every value text. */
function summaryContext(r: SummaryRow): object {
  return { Active: String(r.active), Reclaimable: reclaimable(r), Size: humanSize(r.size), TotalCount: String(r.total), Type: r.type };
}

/**
 * What a `system df -v` template sees, as docker/cli builds it: the four lists, with
 * full IDs and untruncated commands, and container sizes without the image's.
 */
async function verboseContext(store: Store, usage: DiskUsage): Promise<object> {
  const { volumeDataDir } = await import('../volume/volume.js');
  const labels = await containerLabels(
    store,
    usage.containers.map((c) => c.record),
    usage.images.map((i) => i.image),
  );
  return {
    Images: [...usage.images]
      .sort((a, b) => b.image.created.localeCompare(a.image.created))
      .map((i) => {
        const [repository, tag] = repoAndTag(i.repoTags[0]);
        return imageContext({
          id: i.image.id,
          repository,
          tag,
          created: i.image.created,
          size: i.size,
          trunc: false,
          digest: '',
          containers: i.containers,
          sharedSize: i.sharedSize,
          uniqueSize: i.uniqueSize,
        });
      }),
    Containers: [...usage.containers]
      .sort((a, b) => b.record.created.localeCompare(a.record.created))
      .map((c) => containerContext(c.record, { trunc: false, sizeRw: c.usage.sizeRw, labels: labels.get(c.record.id) })),
    Volumes: usage.volumes.map((v) => volumeContext({ name: v.name }, volumeDataDir(store, v.name), v)),
    BuildCache: [],
  };
}

function summaryJson(r: SummaryRow): object {
  return { Type: r.type, TotalCount: r.total, Active: r.active, Size: r.size, Reclaimable: r.reclaimable };
}

/** Docker's `system df -v --format json` shape, with integer byte sizes and strata's extra totals. */
function verboseJson(usage: DiskUsage): object {
  return {
    Images: usage.images.map((i) => {
      const [repository, tag] = repoAndTag(i.repoTags[0]);
      return {
        Repository: repository,
        Tag: tag,
        ID: i.image.id,
        CreatedAt: i.image.created,
        Size: i.size,
        SharedSize: i.sharedSize,
        UniqueSize: i.uniqueSize,
        Containers: i.containers,
      };
    }),
    Containers: usage.containers.map((c) => ({
      ID: c.record.id,
      Names: c.record.name,
      Image: c.record.imageRef,
      CreatedAt: c.record.created,
      State: c.record.state.status,
      Size: c.usage.sizeRw,
      CopiedUp: c.usage.copiedUp,
      Hidden: c.usage.hidden,
      LocalVolumes: c.record.mounts.filter((m) => m.type === 'volume').length,
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

/**
 * What a `du` template sees: the layers top first as the table lists them, and the
 * container's upper dir (null for an image). Sizes as the table prints them, and in
 * bytes beside them.
 */
function breakdownContext(b: UsageBreakdown): object {
  const u = b.upper;
  return {
    Layers: [...b.layers].reverse().map((l) => ({
      ID: l.diffId.slice(7, 19),
      DiffID: l.diffId,
      ChainID: l.chainId,
      Size: humanSize(l.size),
      Visible: humanSize(l.visible),
      Hidden: humanSize(l.hidden),
      SizeBytes: l.size,
      VisibleBytes: l.visible,
      HiddenBytes: l.hidden,
    })),
    Upper:
      u === undefined
        ? null
        : {
            Size: humanSize(u.sizeRw),
            New: humanSize(u.added),
            CopiedUp: humanSize(u.copiedUp),
            Hidden: humanSize(u.hidden),
            SizeBytes: u.sizeRw,
            NewBytes: u.added,
            CopiedUpBytes: u.copiedUp,
            HiddenBytes: u.hidden,
            NewFiles: u.entries.added,
            CopiedUpFiles: u.entries.copiedUp,
            Whiteouts: u.entries.whiteouts,
          },
  };
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * What the container's upper holds, in words: bytes it added, bytes copy-up duplicated,
 * and the image bytes it hides — by whiteouts, by opaque directories (deleted and
 * made again) and by the copies that replace lower files.
 */
export function upperLine(u: NonNullable<UsageBreakdown['upper']>): string {
  return (
    `UPPER: ${humanSize(u.sizeRw)} — new ${humanSize(u.added)} in ${count(u.entries.added, 'file', 'files')}, ` +
    `copied up ${humanSize(u.copiedUp)} in ${count(u.entries.copiedUp, 'file', 'files')}; ` +
    `${count(u.entries.whiteouts, 'whiteout', 'whiteouts')}, ${count(u.entries.opaque, 'opaque directory', 'opaque directories')} ` +
    `and the copied-up files hide ${humanSize(u.hidden)} of the image`
  );
}

function breakdownText(b: UsageBreakdown): string {
  let out = table([
    ['LAYER', 'SIZE', 'VISIBLE', 'HIDDEN'],
    ...[...b.layers].reverse().map((l) => [l.diffId.slice(7, 19), humanSize(l.size), humanSize(l.visible), humanSize(l.hidden)]),
  ]);
  if (b.upper) {
    const u = b.upper;
    out += `\n${upperLine(u)}\n`;
  }
  return out;
}
