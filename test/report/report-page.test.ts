import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { parseVolumeFlag } from '../../src/container/mount-spec.js';
import { measureTree } from '../../src/layer/size.js';
import { humanSize } from '../../src/cli/format.js';
import type { Store } from '../../src/store/root.js';
import type { ReportData } from '../../src/report/report-data.js';
import type { WasteReport } from '../../src/usage/waste.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage, type LayerEntry, type LayerInput } from '../helpers/image-builder.js';
import { strata } from '../helpers/cli.js';
import { testUnless } from '../helpers/skip.js';
import { chromiumSkipReason } from '../helpers/tools.js';
import { distinctColours, launchChromium, openReport } from '../helpers/report-browser.js';
import { snapshotContent } from '../helpers/store-snapshot.js';

const maybe = testUnless(await chromiumSkipReason());

// Sizes chosen here; the page must show exactly what the CLI's JSON says about them.
const many: LayerEntry[] = Array.from({ length: 70 }, (_, i) => ({
  path: `many/f${String(i).padStart(2, '0')}`,
  content: 'm'.repeat(10 + i),
}));
const base: LayerInput = {
  createdBy: 'ADD rootfs.tar /',
  entries: [
    { path: 'bin/', type: 'dir' },
    { path: 'bin/tool', size: 1000, seed: 1 },
    { path: 'bin/alias', type: 'symlink', linkname: 'tool' },
    { path: 'data/', type: 'dir' },
    { path: 'data/big.bin', size: 5000, seed: 2 },
    { path: 'data/small.txt', content: 's'.repeat(200) },
    { path: 'many/', type: 'dir' },
    ...many,
  ],
};
const IMAGES: [string, LayerInput[]][] = [
  ['base:1', [base]],
  [
    'a:1',
    [
      base,
      {
        createdBy: 'RUN make app',
        entries: [
          { path: 'a.txt', content: 'a'.repeat(300) },
          { path: 'data/', type: 'dir' },
          { path: 'data/big.bin', size: 2000, seed: 3 },
        ],
      },
    ],
  ],
  [
    'b:1',
    [
      base,
      {
        // A whiteout and an opaque directory: the explorer's tree must stack them as du does.
        createdBy: 'COPY b.bin /',
        entries: [
          { path: 'b.bin', size: 4000, seed: 4 },
          { path: 'bin/', type: 'dir' },
          { path: 'bin/alias', type: 'whiteout' },
          { path: 'data/', type: 'opaque' },
          { path: 'data/fresh.txt', content: 'f'.repeat(10) },
        ],
      },
    ],
  ],
];
const LEFTOVER = 17;

interface Lab {
  store: Store;
  dir: string;
  file: string;
}

async function lab(t: ExecutionContext): Promise<Lab> {
  const { store, dir } = await tmpStore(t);
  for (const [tag, layers] of IMAGES) {
    const file = path.join(dir, `${tag.replace(':', '-')}.tar`);
    await fs.writeFile(file, await buildImage({ format: 'oci', repoTags: [tag], layers }));
    await loadImages(store, { path: file });
  }
  const web = await containerView(store, await createContainer(store, 'a:1', { name: 'web' }));
  await web.writeFile('/new.txt', 'n'.repeat(123));
  await web.chmod('/data/big.bin', 0o600); // a copy-up of 2000 bytes
  await web.unlink('/data/small.txt');
  await web.mkdir('/logs');
  await web.writeFile('/logs/x.log', 'l'.repeat(55));
  const db = await containerView(store, await createContainer(store, 'b:1', { name: 'db', mounts: [parseVolumeFlag('vol:/v')] }));
  await db.writeFile('/v/data', 'v'.repeat(70));
  await db.writeFile('/s.txt', 's'.repeat(30));
  await fs.writeFile(path.join(store.root, '.tmp-interrupted'), 'x'.repeat(LEFTOVER));
  const file = path.join(dir, 'report.html');
  const out = await strata(store.root, ['report', '-o', file]);
  t.deepEqual([out.code, out.stdout, out.stderr], [0, '', '']);
  return { store, dir, file };
}

/** The CLI's JSON, as much of it as these tests read. */
interface DfRow {
  Type: string;
  Size: number;
  Reclaimable: number;
}
interface DfVerbose {
  Images: { ID: string; Repository: string; Size: number; SharedSize: number; UniqueSize: number }[];
  Containers: { ID: string; Names: string; Size: number; CopiedUp: number; Hidden: number }[];
  Volumes: { Name: string; Size: number }[];
  CopiedUp: number;
}
interface Du {
  layers: { chainId: string; size: number; visible: number }[];
  upper?: { added: number; copiedUp: number };
}

async function json<T>(t: ExecutionContext, root: string, args: string[]): Promise<T> {
  const out = await strata(root, [...args, '--format', 'json']);
  t.is(out.code, 0, out.stderr);
  return JSON.parse(out.stdout) as T;
}

/** Rows of a table as the cells' text. */
function tableRows(page: Page, selector: string): Promise<string[][]> {
  return page.$$eval(`${selector} tbody tr`, (trs) => trs.map((tr) => [...(tr as HTMLTableRowElement).cells].map((td) => td.textContent!)));
}

/** Every figure the page may show, keyed as the page's data-num attributes name them, from the CLI's JSON. */
async function expectedFigures(t: ExecutionContext, lab: Lab): Promise<Map<string, number>> {
  const root = lab.store.root;
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
  want.set('totals.leftovers', LEFTOVER);
  want.set('totals.total', (await json<{ StoreSize: number }>(t, root, ['info'])).StoreSize);
  return want;
}

/** The figures the page shows now: data-num, the exact value (data-bytes, or data-value for ratios and counts), and the text shown. */
function shownFigures(page: Page): Promise<[string, number, string][]> {
  return page.$$eval('[data-num]', (els) =>
    els.map((e) => [e.getAttribute('data-num')!, Number(e.getAttribute('data-bytes') ?? e.getAttribute('data-value')), e.textContent!]),
  );
}

/** How the page writes a figure: bytes in Docker's units, a ratio as a percentage, a count as it is. */
function asShown(key: string, n: number): string {
  if (/\.(efficiencyScore|userWastedPercent)$/.test(key)) return `${(n * 100).toFixed(2)} %`;
  if (key.endsWith('.count')) return String(n);
  return humanSize(n);
}

/** Each treemap cell's share of the area against its share of the bytes. */
async function areaShares(page: Page): Promise<{ path: string; area: number; bytes: number }[]> {
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
let browser: Promise<Browser> | undefined;
test.after.always(async () => (await browser)?.close());
const chromium = () => (browser ??= launchChromium());

maybe('every figure the report shows equals the CLI JSON, and the parts add up to the store on disk', async (t) => {
  const l = await lab(t);
  const want = await expectedFigures(t, l);
  const { page, errors, requests } = await openReport(await chromium(), l.file);
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
});

maybe('a bar per image with one segment per layer; a click lists the layer files with its build step', async (t) => {
  const l = await lab(t);
  const v = await json<DfVerbose>(t, l.store.root, ['system', 'df', '-v']);
  const { page, errors } = await openReport(await chromium(), l.file);
  for (const image of v.Images) {
    const du = await json<Du>(t, l.store.root, ['du', image.ID]);
    t.is(await page.locator(`.image-row[data-image="${image.ID}"] .seg`).count(), du.layers.length, image.Repository);
  }
  const a = v.Images.find((i) => i.Repository === 'a')!;
  await page.locator(`.image-row[data-image="${a.ID}"] .seg[data-layer="1"]`).click();
  t.deepEqual(await tableRows(page, '#layer-files table.files'), [
    ['/data/big.bin', '2kB'],
    ['/a.txt', '300B'],
  ]);
  t.regex((await page.locator('#layer-files').textContent())!, /RUN make app[\s\S]*2 files · in no other image/);
  await page.locator(`.image-row[data-image="${a.ID}"] .seg[data-layer="0"]`).click();
  t.regex((await page.locator('#layer-files').textContent())!, /ADD rootfs\.tar \/[\s\S]*73 files · shared with b:1, base:1/);
  t.deepEqual(
    (await page.$$eval('.container-row .label', (labels) => labels.map((l) => l.textContent!))).sort(),
    // web: 123 + 55 new, 2000 copied up; it hides the 2000-byte big.bin it copied and the 200-byte small.txt it deleted.
    ['↳ db 30B hides 0B', '↳ web 2.178kB hides 2.2kB'],
  );
  t.deepEqual(errors, []);
  await page.close();
});

maybe('the explorer: areas follow bytes within 1 %, a click zooms, breadcrumbs return, search finds, small files fold', async (t) => {
  const l = await lab(t);
  const v = await json<DfVerbose>(t, l.store.root, ['system', 'df', '-v']);
  const a = v.Images.find((i) => i.Repository === 'a')!;
  const { page, errors } = await openReport(await chromium(), l.file);
  await page.selectOption('#subject', `image:${a.ID}`);
  const top = await areaShares(page);
  t.deepEqual(top.map((c) => c.path).sort(), ['/a.txt', '/bin', '/data', '/many']);
  for (const c of top) t.true(Math.abs(c.area - c.bytes) <= 0.01, `${c.path}: area ${c.area} for bytes ${c.bytes}`);

  await page.locator('#treemap .tm-cell[data-path="/many"]').click();
  t.is(await page.locator('#crumbs').textContent(), '/ › many');
  const inMany = await areaShares(page);
  t.is(inMany.length, 65, '64 files by name and one for the rest');
  for (const c of inMany) t.true(Math.abs(c.area - c.bytes) <= 0.01, `${c.path}: area ${c.area} for bytes ${c.bytes}`);
  // The six smallest (10 to 15 bytes) are one row of the table and one cell.
  t.true(inMany.some((c) => c.path === '/many/(6 files, 75B)'));
  const folded = (await tableRows(page, '#tree-table')).filter((r) => r[0]!.startsWith('('));
  t.deepEqual(folded, [['(6 files, 75B)', '75B', '6', 'layer 1']]);

  await page.locator('#crumbs button', { hasText: '/' }).click();
  t.is(await page.locator('#crumbs').textContent(), '/');
  // The same by keyboard: Enter on a focused directory zooms in, Escape zooms out.
  await page.locator('#treemap g.zoomable:has(.tm-cell[data-path="/bin"])').focus();
  await page.keyboard.press('Enter');
  t.is(await page.locator('#crumbs').textContent(), '/ › bin');
  await page.keyboard.press('Escape');
  t.is(await page.locator('#crumbs').textContent(), '/');
  // Tables sort by any column: the containers by size, largest first, then the other way.
  t.deepEqual(
    (await tableRows(page, '#containers-table')).map((r) => r[0]),
    ['web', 'db'],
  );
  await page.locator('#containers-table th', { hasText: 'SIZE' }).click();
  t.deepEqual(
    (await tableRows(page, '#containers-table')).map((r) => r[0]),
    ['db', 'web'],
  );
  t.is(await page.locator('#containers-table th', { hasText: 'SIZE' }).getAttribute('aria-sort'), 'ascending');
  await page.fill('#search', 'big');
  t.deepEqual(await tableRows(page, '#search-table'), [['/data/big.bin', '2kB']]);
  t.deepEqual(await page.$$eval('#treemap .tm-cell.match', (els) => els.map((e) => e.getAttribute('data-path'))), ['/data']);

  const b = v.Images.find((i) => i.Repository === 'b')!;
  await page.selectOption('#subject', `image:${b.ID}`);
  await page.locator('#treemap .tm-cell[data-path="/data"]').click();
  t.deepEqual(await tableRows(page, '#tree-table'), [['fresh.txt', '10B', '1', 'layer 2']], "b:1's opaque /data hides the base's files");
  await page.locator('#crumbs button', { hasText: '/' }).click();
  await page.locator('#treemap .tm-cell[data-path="/bin"]').click();
  t.deepEqual(await tableRows(page, '#tree-table'), [['tool', '1kB', '1', 'layer 1']], "b:1's whiteout deletes /bin/alias");

  const web = v.Containers.find((c) => c.Names === 'web')!;
  await page.selectOption('#subject', `container:${web.ID}`);
  await page.locator('#treemap .tm-cell[data-path="/data"]').click();
  t.deepEqual(
    await tableRows(page, '#tree-table'),
    [['big.bin', '2kB', '1', 'upper (copied up)']],
    'the whiteout hides small.txt and the copy-up replaces big.bin',
  );
  t.deepEqual(errors, []);
  await page.close();
});

maybe('the page is drawn in light and dark, and its screenshot is not blank', async (t) => {
  const l = await lab(t);
  const b = await chromium();
  for (const scheme of ['light', 'dark'] as const) {
    const { page, errors } = await openReport(b, l.file, scheme);
    // What the README shows: the container with copy-up and a whiteout, and the image with a file stored twice.
    const v = await json<DfVerbose>(t, l.store.root, ['system', 'df', '-v']);
    await page.selectOption('#subject', `container:${v.Containers.find((c) => c.Names === 'web')!.ID}`);
    t.is(
      await page.$eval('#waste-subject', (s) => (s as HTMLSelectElement).selectedOptions[0]!.textContent),
      'image a:1',
      'the most waste first',
    );
    t.is(
      await page.evaluate(() => getComputedStyle(document.body).backgroundColor),
      scheme === 'light' ? 'rgb(255, 255, 255)' : 'rgb(21, 23, 26)',
    );
    const png = await page.screenshot({ fullPage: true });
    t.true((await distinctColours(b, png)) > 50, `${scheme}: a drawn page has many colours`);
    const keep = process.env.STRATA_REPORT_SCREENSHOT;
    if (keep && scheme === 'light') await fs.writeFile(keep, png);
    t.deepEqual(errors, []);
    await page.close();
  }
});

test('--format json writes the data the page embeds; a name that is neither fails and changes nothing', async (t) => {
  const l = await lab(t);
  const html = await fs.readFile(l.file, 'utf8');
  const embedded = html.match(/<script type="application\/json" id="report-data">(.*?)<\/script>/s)![1]!;
  const out = await strata(l.store.root, ['report', '--format', 'json']);
  t.is(out.code, 0);
  t.deepEqual(JSON.parse(out.stdout), JSON.parse(embedded));
  t.notRegex(html, /(src|href)=["']?(https?:|\/\/)/, 'nothing loads from elsewhere');

  const before = await snapshotContent(l.store.root);
  const bad = await strata(l.store.root, ['report', '-o', path.join(l.dir, 'bad.html'), 'nosuch']);
  t.deepEqual([bad.code, bad.stdout, bad.stderr], [1, '', 'strata: No such image: nosuch\n']);
  const format = await strata(l.store.root, ['report', '--format', 'yaml']);
  t.deepEqual([format.code, format.stderr], [1, 'strata: unknown --format "yaml": report writes HTML, or JSON with --format json\n']);
  t.deepEqual(await snapshotContent(l.store.root), before);
  await t.throwsAsync(fs.access(path.join(l.dir, 'bad.html')));
});

maybe('the report of an empty store draws without an error', async (t) => {
  const { store, dir } = await tmpStore(t);
  const file = path.join(dir, 'empty.html');
  t.is((await strata(store.root, ['report', '-o', file])).code, 0);
  const { page, errors } = await openReport(await chromium(), file);
  t.is(
    await page.locator('[data-num="totals.total"]').getAttribute('data-bytes'),
    String((await json<{ StoreSize: number }>(t, store.root, ['info'])).StoreSize),
  );
  t.is(await page.locator('#waste-body').textContent(), 'No image to measure.');
  t.deepEqual(errors, []);
  await page.close();
});

test('-o into a directory that is not there fails before anything is measured', async (t) => {
  const l = await lab(t);
  const before = await snapshotContent(l.store.root);
  const out = await strata(l.store.root, ['report', '-o', path.join(l.dir, 'nowhere', 'r.html')]);
  t.deepEqual([out.code, out.stderr], [1, `strata: ${path.join(l.dir, 'nowhere', 'r.html')}: No such file or directory\n`]);
  t.deepEqual(await snapshotContent(l.store.root), before);
});

test('a report of one container shows it and its image only', async (t) => {
  const l = await lab(t);
  const data = JSON.parse((await strata(l.store.root, ['report', '--format', 'json', 'web'])).stdout) as ReportData;
  t.deepEqual(
    data.containers.map((c) => c.name),
    ['web'],
  );
  t.deepEqual(
    data.images.map((i) => i.tags),
    [['a:1']],
  );
  t.deepEqual(data.containers[0]!.upper.whiteouts, ['/data/small.txt']);
  const web = data.containers[0]!.id;
  t.deepEqual(
    data.waste.map((w) => w.subject),
    [`image:${data.images[0]!.id}`, `container:${web}`],
  );
  t.deepEqual(data.waste[1]!.report, await json<WasteReport>(t, l.store.root, ['du', '--waste', 'web']), 'the same figures as du --waste');
});
