import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { loadImages } from '../../src/transfer/load.js';
import { createContainer } from '../../src/container/create.js';
import { containerView } from '../../src/container/view.js';
import { parseVolumeFlag } from '../../src/container/mount-spec.js';
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
import { areaShares, everyFigureMatches, expectedFigures, json, tableRows, type DfVerbose, type Du } from '../helpers/report-figures.js';

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

let browser: Promise<Browser> | undefined;
test.after.always(async () => (await browser)?.close());
const chromium = () => (browser ??= launchChromium());

maybe('every figure the report shows equals the CLI JSON, and the parts add up to the store on disk', async (t) => {
  const l = await lab(t);
  await everyFigureMatches(t, await chromium(), l.file, await expectedFigures(t, l.store.root, LEFTOVER));
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
