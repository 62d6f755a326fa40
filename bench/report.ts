/**
 * What every benchmark module returns, and the two ways it is printed: a table for
 * people, JSON for scripts. Speed figures are ratios against a baseline measured in
 * the same run, so they mean the same on a laptop and on CI.
 */
import os from 'node:os';
import { median, type Sample } from './measure.js';

export interface BenchContext {
  /** The repository checkout (bin/strata.js lives under it). */
  repoRoot: string;
  /** Measured runs per contender, after one warm-up run each. */
  runs: number;
  /** Image size in MiB of file content. */
  sizeMiB: number;
  /** Remove cached inputs (the generated image) at the end. */
  clean: boolean;
  /** Write a CPU profile of one extra strata run into this directory. */
  cpuProfDir: string | null;
  /** Progress lines (stderr): never mixed into the table or the JSON. */
  log(line: string): void;
}

export interface ContenderResult {
  name: string;
  /** What exactly was run, in one line. */
  command: string;
  /** Why the contender did not run, when it did not. */
  skipped?: string;
  samples: Sample[];
  /** Median of the measured runs. */
  wallS: number | null;
  cpuS: number | null;
  /** Largest peak RSS of the measured runs: the target is a ceiling, so the worst run counts. */
  peakRssMiB: number | null;
  /** wallS over the baseline's wallS. */
  ratio: number | null;
  /** cpuS over the baseline's cpuS: steadier than wall time on a busy machine. */
  cpuRatio: number | null;
}

export type TargetStatus = 'PASS' | 'MISS' | 'SKIP';

export interface TargetResult {
  status: TargetStatus;
  target: string;
  found: string;
}

export interface BenchReport {
  name: string;
  title: string;
  contenders: ContenderResult[];
  targets: TargetResult[];
  notes: string[];
  /** Extra lines printed as they are (a profile summary). */
  details?: string[];
}

export function summarize(
  name: string,
  command: string,
  samples: Sample[],
  baselineWallS: number | null,
  baselineCpuS: number | null = null,
): ContenderResult {
  const wallS = median(samples.map((s) => s.wallS));
  const cpuS = median(samples.map((s) => s.userS + s.sysS));
  return {
    name,
    command,
    samples,
    wallS,
    cpuS,
    peakRssMiB: Math.max(...samples.map((s) => s.peakRssMiB)),
    ratio: baselineWallS ? wallS / baselineWallS : null,
    cpuRatio: baselineCpuS ? cpuS / baselineCpuS : null,
  };
}

export function skipped(name: string, command: string, why: string): ContenderResult {
  return { name, command, skipped: why, samples: [], wallS: null, cpuS: null, peakRssMiB: null, ratio: null, cpuRatio: null };
}

export function machine(): Record<string, string | number> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryMiB: Math.round(os.totalmem() / 1024 ** 2),
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
  };
}

export function renderJson(reports: BenchReport[], source: string): string {
  return `${JSON.stringify({ date: new Date().toISOString(), machine: machine(), source, benchmarks: reports }, null, 2)}\n`;
}

/** One line naming the machine and the code measured, printed above the tables. */
export function renderHeader(source: string): string {
  const m = machine();
  return `strata bench ${new Date().toISOString().slice(0, 10)} — ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryMiB} MiB RAM, node ${m.node}; ${source}\n\n`;
}

export function renderTable(report: BenchReport): string {
  const rows = [['contender', 'wall s (median)', 'min–max', 'vs baseline', 'CPU s', 'CPU vs baseline', 'peak RSS MiB']];
  const times = (r: number | null) => (r === null ? '' : `${r.toFixed(2)}x`);
  for (const c of report.contenders) {
    if (c.skipped !== undefined) {
      rows.push([c.name, 'skipped', '', '', '', '', '']);
      continue;
    }
    const walls = c.samples.map((s) => s.wallS);
    rows.push([
      c.name,
      c.wallS!.toFixed(2),
      `${Math.min(...walls).toFixed(2)}–${Math.max(...walls).toFixed(2)}`,
      times(c.ratio),
      c.cpuS!.toFixed(2),
      times(c.cpuRatio),
      c.peakRssMiB!.toFixed(1),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [`== ${report.name}: ${report.title}`, line(rows[0]!), ...rows.slice(1).map(line), '', 'targets:'];
  for (const t of report.targets) out.push(`  ${t.status.padEnd(4)}  ${t.target}: ${t.found}`);
  const skips = report.contenders.filter((c) => c.skipped !== undefined);
  if (skips.length > 0 || report.notes.length > 0) out.push('', 'notes:');
  for (const c of skips) out.push(`  - ${c.name} skipped: ${c.skipped}`);
  for (const note of report.notes) out.push(`  - ${note}`);
  if (report.details?.length) out.push('', ...report.details.map((l) => `  ${l}`));
  return `${out.join('\n')}\n`;
}
