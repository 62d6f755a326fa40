/**
 * What the report's browser tests compare the page with: the CLI's JSON (`system df`,
 * `system df -v`, `du`, `du --waste`, `info`), keyed as the page's data-num attributes
 * name its figures.
 */
import type { ExecutionContext } from 'ava';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { measureTree } from '../../src/layer/size.js';
import { humanSize } from '../../src/cli/format.js';
import type { WasteReport } from '../../src/usage/waste.js';
import { strata } from './cli.js';
import { openReport } from './report-browser.js';

/** The CLI's JSON, as much of it as these tests read. */
export interface DfRow {
  Type: string;
  Size: number;
  Reclaimable: number;
}
export interface DfVerbose {
  Images: { ID: string; Repository: string; Size: number; SharedSize: number; UniqueSize: number }[];
  Containers: { ID: string; Names: string; Size: number; CopiedUp: number; Hidden: number }[];
  Volumes: { Name: string; Size: number }[];
  CopiedUp: number;
}
export interface Du {
  layers: { chainId: string; size: number; visible: number }[];
  upper?: { added: number; copiedUp: number };
}

export async function json<T>(t: ExecutionContext, root: string, args: string[]): Promise<T> {
  const out = await strata(root, [...args, '--format', 'json']);
  t.is(out.code, 0, out.stderr);
  return JSON.parse(out.stdout) as T;
}

/** Rows of a table as the cells' text. */
export function tableRows(page: Page, selector: string): Promise<string[][]> {
  return page.$$eval(`${selector} tbody tr`, (trs) => trs.map((tr) => [...(tr as HTMLTableRowElement).cells].map((td) => td.textContent!)));
}

/** Every figure the page may show, keyed as the page's data-num attributes name them, from the CLI's JSON. */
export async function expectedFigures(t: ExecutionContext, root: string, leftovers: number): Promise<Map<string, number>> {
  const want = new Map<string, number>();
  const summary = (await strata(root, ['system', 'df', '--format', 'json'])).stdout.trim().split('\n');
  for (const row of summary.map((line) => JSON.parse(line) as DfRow)) {
    want.set(`df.summary.${row.Type}.Size`, row.Size);
    want.set(`df.summary.${row.Type}.Reclaimable`, row.Reclaimable);
  }
  const v = await json<DfVerbose>(t, root, ['system', 'df', '-v']);
  const holders = new Map<string, { size: number; images: number }>();
  for (const i of v.Images) {
    for (const k of ['Size', 'SharedSize', 'UniqueSize'] as const) want.set(`df.image.${i.ID}.${k}`, i[k]);
    const du = await json<Du>(t, root, ['du', i.ID]);
    for (const [n, l] of du.layers.entries()) {
      want.set(`du.image.${i.ID}.layer.${n}.size`, l.size);
      want.set(`du.image.${i.ID}.layer.${n}.visible`, l.visible);
      holders.set(l.chainId, { size: l.size, images: (holders.get(l.chainId)?.images ?? 0) + 1 });
    }
  }
  for (const c of v.Containers) {
    for (const k of ['Size', 'CopiedUp', 'Hidden'] as const) want.set(`df.container.${c.ID}.${k}`, c[k]);
    const du = await json<Du>(t, root, ['du', c.ID]);
    for (const [n, l] of du.layers.entries()) want.set(`du.container.${c.ID}.layer.${n}.visible`, l.visible);
    want.set(`du.container.${c.ID}.upper.added`, du.upper!.added);
    want.set(`du.container.${c.ID}.upper.copiedUp`, du.upper!.copiedUp);
  }
  for (const vol of v.Volumes) want.set(`df.volume.${vol.Name}.Size`, vol.Size);
  for (const i of v.Images) {
    const waste = await json<WasteReport>(t, root, ['du', '--waste', i.ID]);
    for (const k of ['efficiencyScore', 'wastedBytes', 'reclaimableBytes', 'sizeBytes', 'userWastedPercent'] as const)
      want.set(`waste.image:${i.ID}.${k}`, waste[k]);
    for (const p of waste.paths)
      for (const k of ['count', 'bytes', 'reclaimableBytes'] as const) want.set(`waste.image:${i.ID}.path.${p.path}.${k}`, p[k]);
  }
  const layers = [...holders.values()];
  want.set(
    'totals.sharedLayers',
    layers.filter((l) => l.images > 1).reduce((s, l) => s + l.size, 0),
  );
  want.set(
    'totals.uniqueLayers',
    layers.filter((l) => l.images === 1).reduce((s, l) => s + l.size, 0),
  );
  want.set(
    'totals.containersNew',
    v.Containers.reduce((s, c) => s + c.Size - c.CopiedUp, 0),
  );
  want.set('totals.containersCopiedUp', v.CopiedUp);
  want.set(
    'totals.volumes',
    v.Volumes.reduce((s, x) => s + x.Size, 0),
  );
  want.set('totals.blobs', (await measureTree(path.join(root, 'blobs'))).size);
  want.set('totals.leftovers', leftovers);
  want.set('totals.total', (await json<{ StoreSize: number }>(t, root, ['info'])).StoreSize);
  return want;
}

/** The figures the page shows now: data-num, the exact value (data-bytes, or data-value for ratios and counts), and the text shown. */
export function shownFigures(page: Page): Promise<[string, number, string][]> {
  return page.$$eval('[data-num]', (els) =>
    els.map((e) => [e.getAttribute('data-num')!, Number(e.getAttribute('data-bytes') ?? e.getAttribute('data-value')), e.textContent!]),
  );
}

/** How the page writes a figure: bytes in Docker's units, a ratio as a percentage, a count as it is. */
export function asShown(key: string, n: number): string {
  if (/\.(efficiencyScore|userWastedPercent)$/.test(key)) return `${(n * 100).toFixed(2)} %`;
  if (key.endsWith('.count')) return String(n);
  return humanSize(n);
}

/** Each treemap cell's share of the area against its share of the bytes. */
export async function areaShares(page: Page): Promise<{ path: string; area: number; bytes: number }[]> {
  const cells = await page.$$eval('#treemap .tm-cell', (rects) =>
    rects.map((r) => ({
      path: r.getAttribute('data-path')!,
      area: Number(r.getAttribute('width')) * Number(r.getAttribute('height')),
      bytes: Number(r.getAttribute('data-bytes')),
    })),
  );
  const area = cells.reduce((s, c) => s + c.area, 0);
  const bytes = cells.reduce((s, c) => s + c.bytes, 0);
  return cells.map((c) => ({ path: c.path, area: c.area / area, bytes: c.bytes / bytes }));
}

// One browser for the file, launched by the first test that needs it (tests run at once: the promise is shared).
/**
 * Opens the report and checks every figure it shows, on every layer and subject it can
 * show, against `want`: the same value, written as the page writes it, nothing missing;
 * the store totals add up; no error and no request but file:.
 */
export async function everyFigureMatches(t: ExecutionContext, browser: Browser, file: string, want: Map<string, number>): Promise<void> {
  const { page, errors, requests } = await openReport(browser, file);
  const shown = await shownFigures(page);
  // Layer details and container legends appear on demand: open every one.
  for (const seg of await page.$$('.image-row .seg')) {
    await seg.click();
    shown.push(...(await shownFigures(page)));
  }
  for (const select of ['#subject', '#waste-subject'])
    for (const value of await page.$$eval(`${select} option`, (os) => os.map((o) => (o as HTMLOptionElement).value))) {
      await page.selectOption(select, value);
      shown.push(...(await shownFigures(page)));
    }
  const totals = shown.filter(([k]) => k.startsWith('totals.') && k !== 'totals.total');
  const total = want.get('totals.total')!;
  t.is(new Set(totals.map(([k]) => k)).size, 8);
  t.is(
    [...new Map(totals.map(([k, n]) => [k, n])).values()].reduce((s, n) => s + n, 0),
    total,
    'the parts add up to strata info StoreSize',
  );
  want.set('totals.metadata', shown.find(([k]) => k === 'totals.metadata')![1]);
  for (const [key, n, text] of shown) {
    t.true(want.has(key), `${key} is a figure the CLI reports`);
    t.is(n, want.get(key)!, key);
    t.is(text, asShown(key, n), `${key} as the page writes it`);
  }
  t.deepEqual([...new Set(shown.map(([k]) => k))].sort(), [...want.keys()].sort(), 'every figure of the CLI is on the page');
  t.deepEqual(errors, []);
  t.deepEqual(
    requests.filter((u) => !u.startsWith('file:')),
    [],
  );
  await page.close();
}
