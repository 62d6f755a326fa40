import type { Store } from '../store/root.js';
import { isStrataError, StrataError } from '../errors.js';
import type { WasteReport, WasteTarget } from '../usage/waste.js';
import { DEFAULT_WASTE_RULES, evaluateWasteRules, parseWasteRules, type WasteVerdict } from '../usage/waste-rules.js';
import type { CliContext } from './context.js';
import { humanSize, table } from './format.js';
import { ExitStatus } from './main.js';
import { dfProgress } from './progress.js';

/** `du --waste` and `du --ci`; usage-commands.ts defines them and loads this when one runs. */
export interface WasteCliOptions {
  format?: string;
  waste?: boolean;
  top?: number;
  ci?: boolean;
  lowestEfficiency?: string;
  highestWastedBytes?: string;
  highestUserWastedPercent?: string;
}

export const DEFAULT_TOP = 20;

/** Whether `du` was asked for the waste figures rather than its layer breakdown. */
export function wantsWaste(opts: WasteCliOptions): boolean {
  return opts.waste === true || opts.ci === true || opts.top !== undefined || ruleFlags(opts).length > 0;
}

export async function duWaste(ctx: CliContext, name: string, opts: WasteCliOptions): Promise<void> {
  // Every flag is checked before anything is read, as docker checks flags before asking the daemon.
  if (!opts.ci && ruleFlags(opts).length > 0) throw new StrataError('EUSAGE', `${ruleFlags(opts)[0]} needs --ci`);
  if (!opts.waste && !opts.ci) throw new StrataError('EUSAGE', '--top needs --waste');
  if (opts.format !== undefined && opts.format !== 'json')
    throw new StrataError('EUSAGE', `--waste prints a table, or JSON with --format json; not ${JSON.stringify(opts.format)}`);
  const rules = opts.ci
    ? parseWasteRules({
        lowestEfficiency: opts.lowestEfficiency ?? DEFAULT_WASTE_RULES.lowestEfficiency,
        highestWastedBytes: opts.highestWastedBytes ?? DEFAULT_WASTE_RULES.highestWastedBytes,
        highestUserWastedPercent: opts.highestUserWastedPercent ?? DEFAULT_WASTE_RULES.highestUserWastedPercent,
      })
    : undefined;
  const store = await ctx.store();
  const { measureWaste } = await import('../usage/waste.js');
  const progress = dfProgress(ctx, opts.format !== undefined);
  const report = await measureWaste(store, await wasteTarget(store, name), { onProgress: progress?.update }).finally(() =>
    progress?.stop(),
  );
  const verdict = rules ? evaluateWasteRules(report, rules) : undefined;
  if (opts.format === 'json') ctx.print(JSON.stringify(verdict ? { ...report, ci: verdict } : report));
  else ctx.io.stdout.write(wasteText(report, opts.top ?? DEFAULT_TOP) + (verdict ? verdictText(verdict) : ''));
  if (verdict && !verdict.pass) throw new ExitStatus(1);
}

function ruleFlags(opts: WasteCliOptions): string[] {
  return [
    opts.lowestEfficiency !== undefined ? '--lowest-efficiency' : '',
    opts.highestWastedBytes !== undefined ? '--highest-wasted-bytes' : '',
    opts.highestUserWastedPercent !== undefined ? '--highest-user-wasted-percent' : '',
  ].filter((f) => f !== '');
}

/** A container by name or ID first, then an image, as `du` resolves its argument. */
async function wasteTarget(store: Store, name: string): Promise<WasteTarget> {
  const [{ findContainer }, { findImage }, { readImageRecord }] = await Promise.all([
    import('../container/lookup.js'),
    import('../image/lookup.js'),
    import('../image/record.js'),
  ]);
  try {
    const container = await findContainer(store, name);
    return { image: await readImageRecord(store, container.image), container };
  } catch (err) {
    if (!isStrataError(err, 'ENOTFOUND')) throw err;
  }
  return { image: await findImage(store, name) };
}

const percent = (ratio: number) => `${(ratio * 100).toFixed(2)} %`;
const bytes = (n: number) => `${humanSize(n)} (${n} bytes)`;

/** The figures, then the paths stored more than once, most bytes first (`top` ≤ 0: all of them). */
export function wasteText(r: WasteReport, top: number): string {
  const upper = r.layers.find((l) => l.kind === 'upper');
  const shown = top > 0 ? r.paths.slice(0, top) : r.paths;
  const lines = [
    `Efficiency score:   ${percent(r.efficiencyScore)} (dive's: smallest copy of each path / all copies)`,
    `Wasted (dive):      ${bytes(r.wastedBytes)}: every copy of each path stored more than once`,
    `Reclaimable:        ${bytes(r.reclaimableBytes)}: all but the smallest copy of each of those paths`,
    `Size:               ${bytes(r.sizeBytes)} in ${r.layers.length} ${r.layers.length === 1 ? 'layer' : 'layers'}${upper ? ' (the last: the upper dir)' : ''}; ` +
      `${humanSize(r.userSizeBytes)} above the base layer; wasted / that: ${percent(r.userWastedPercent)} (dive's userWastedPercent)`,
  ];
  const figures = `${lines.join('\n')}\n\n`;
  if (r.paths.length === 0) return `${figures}No path is stored more than once.\n`;
  const title =
    shown.length < r.paths.length
      ? `Paths stored more than once: the ${shown.length} largest of ${r.paths.length} (-n 0 for all)`
      : `Paths stored more than once: ${r.paths.length}`;
  const rows = shown.map((p) => [
    String(p.count),
    humanSize(p.bytes),
    humanSize(p.reclaimableBytes),
    p.occurrences.map((o) => `${layerName(r, o.layer)}${o.whiteout ? ' (whiteout)' : ''}`).join(', '),
    p.path,
  ]);
  return `${figures}${title}; layers counted from 0 at the base\n${table([['COUNT', 'TOTAL', 'RECLAIMABLE', 'LAYERS', 'PATH'], ...rows])}`;
}

function layerName(r: WasteReport, index: number): string {
  return r.layers[index]?.kind === 'upper' ? 'upper' : String(index);
}

/** dive's evaluation section: one line per rule by name, then the tally. */
export function verdictText(v: WasteVerdict): string {
  const count = (status: string) => v.results.filter((r) => r.status === status).length;
  const tally = ['pass', 'fail', 'skip']
    .filter((s) => count(s) > 0)
    .map((s) => `${s}:${count(s)}`)
    .join(' ');
  const lines = v.results.map((r) => `  ${r.status.toUpperCase()}  ${r.rule} (${r.message})`);
  return `\nEvaluation:\n${lines.join('\n')}\n\n${v.pass ? 'PASS' : 'FAIL'} [${tally}]\n`;
}
