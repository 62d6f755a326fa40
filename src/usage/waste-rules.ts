import { StrataError } from '../errors.js';
import type { WasteReport } from './waste.js';

/**
 * dive's CI rules (`dive --ci`, `.dive-ci`) over a WasteReport: the same three rules,
 * the same defaults, the same ways to switch one off and the same comparisons, so a
 * pipeline's thresholds mean here what they meant there.
 */
export interface WasteRuleSettings {
  /** Fail when the efficiency score is below this ratio (0–1). dive's default: 0.9. */
  lowestEfficiency: string;
  /** Fail when dive's wasted bytes exceed this size (`20MB`, `1.5GiB`, `4096`). dive's default: disabled. */
  highestWastedBytes: string;
  /** Fail when wasted / user bytes exceeds this ratio (0–1). dive's default: 0.1. */
  highestUserWastedPercent: string;
}

export const DEFAULT_WASTE_RULES: WasteRuleSettings = {
  lowestEfficiency: '0.9',
  highestWastedBytes: 'disabled',
  highestUserWastedPercent: '0.1',
};

/** The rules by the flag names that set them, in the order dive reports them (by name). */
export type WasteRuleName = 'highest-user-wasted-percent' | 'highest-wasted-bytes' | 'lowest-efficiency';

export interface WasteRule {
  name: WasteRuleName;
  /** As given (`20MB`, `disabled`). */
  setting: string;
  /** null: the rule is switched off. */
  threshold: number | null;
}

export interface WasteRuleResult {
  rule: WasteRuleName;
  status: 'pass' | 'fail' | 'skip';
  /** dive's words: why it failed, else the setting. */
  message: string;
}

export interface WasteVerdict {
  pass: boolean;
  results: WasteRuleResult[];
}

/** Checks every setting before anything is measured; a bad one is a one-line EUSAGE error. */
export function parseWasteRules(settings: WasteRuleSettings): WasteRule[] {
  return [
    rule('highest-user-wasted-percent', settings.highestUserWastedPercent, parseRatio),
    rule('highest-wasted-bytes', settings.highestWastedBytes, parseByteSize),
    rule('lowest-efficiency', settings.lowestEfficiency, parseRatio),
  ];
}

export function evaluateWasteRules(report: WasteReport, rules: WasteRule[]): WasteVerdict {
  const results = rules.map((r): WasteRuleResult => {
    if (r.threshold === null) return { rule: r.name, status: 'skip', message: 'disabled' };
    const failure = failureOf(report, r.name, r.threshold);
    return failure === null ? { rule: r.name, status: 'pass', message: r.setting } : { rule: r.name, status: 'fail', message: failure };
  });
  return { pass: results.every((r) => r.status !== 'fail'), results };
}

function failureOf(report: WasteReport, name: WasteRuleName, threshold: number): string | null {
  switch (name) {
    case 'lowest-efficiency':
      return threshold > report.efficiencyScore
        ? `image efficiency is too low (efficiency=${report.efficiencyScore.toFixed(2)} < threshold=${threshold})`
        : null;
    case 'highest-wasted-bytes':
      return report.wastedBytes > threshold ? `too many bytes wasted (wasted-bytes=${report.wastedBytes} > threshold=${threshold})` : null;
    case 'highest-user-wasted-percent':
      return report.userWastedPercent > threshold
        ? `too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes=${report.userWastedPercent.toFixed(2)} > threshold=${threshold})`
        : null;
  }
}

function rule(name: WasteRuleName, setting: string, parse: (text: string, flag: string) => number): WasteRule {
  const off = ['', 'disabled', 'off', 'false'].includes(setting.trim().toLowerCase());
  return { name, setting, threshold: off ? null : parse(setting, `--${name}`) };
}

const DECIMAL = /^(\d+\.?\d*|\.\d+)$/;

function parseRatio(text: string, flag: string): number {
  const value = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (Number.isNaN(value)) throw new StrataError('EUSAGE', `invalid ${flag} ${JSON.stringify(text)}: not a number`);
  if (value < 0 || value > 1) throw new StrataError('EUSAGE', `${flag} must be a ratio between 0 and 1, given ${JSON.stringify(text)}`);
  return value;
}

const KILO = 1000;
const KIBI = 1024;
const UNITS = new Map<string, number>([
  ['', 1],
  ['b', 1],
  ...['k', 'm', 'g', 't', 'p', 'e'].flatMap((prefix, i): [string, number][] => [
    [prefix, KILO ** (i + 1)],
    [`${prefix}b`, KILO ** (i + 1)],
    [`${prefix}i`, KIBI ** (i + 1)],
    [`${prefix}ib`, KIBI ** (i + 1)],
  ]),
]);

/**
 * A size as dive reads one (go-humanize ParseBytes): a number, commas allowed, then
 * an optional unit in any case — `kB`/`k` are 1000, `KiB`/`Ki` 1024, up to exa; a
 * fraction is truncated to whole bytes. `20MB` is 20,000,000.
 */
export function parseByteSize(text: string, flag = 'size'): number {
  const digits = /^[\d.,]*/.exec(text)?.[0] ?? '';
  const number = digits.replaceAll(',', '');
  if (!DECIMAL.test(number)) throw new StrataError('EUSAGE', `invalid ${flag} ${JSON.stringify(text)}: not a size`);
  const unit = text.slice(digits.length).trim().toLowerCase();
  const multiplier = UNITS.get(unit);
  if (multiplier === undefined)
    throw new StrataError('EUSAGE', `invalid ${flag} ${JSON.stringify(text)}: unknown unit ${JSON.stringify(unit)}`);
  const bytes = Number(number) * multiplier;
  if (bytes >= 2 ** 64) throw new StrataError('EUSAGE', `invalid ${flag} ${JSON.stringify(text)}: too large`);
  return Math.trunc(bytes);
}
