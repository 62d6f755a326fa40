/**
 * `npm run bench -- report`: `strata report` over the `df` benchmark's store (20 images,
 * 200 containers, 100,000 upper files; bench/df-bench.ts makes and caches it), with
 * every container's size cached, as after any `system df`. Three figures against the
 * issue's targets: the CLI's wall time for the whole-store report, the size of the data
 * the page embeds, and how long the page takes in headless chromium (Debian's chromium
 * driven by playwright-core) until its script says it has drawn everything
 * (`window.reportReadyAt`, performance.now() at ready). `node -e ''` is the floor under
 * the CLI rows. STRATA_BENCH_REPORT_SMALL=1 runs it on a store a tenth the size, to
 * check the benchmark itself.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { DF_SHAPE, ensureDfStore, type DfShape } from './df-bench.js';
import { makeScratchDir, measure, removeTree, run, settleDisk, type Command, type Sample } from './measure.js';
import { skipped, summarize, type BenchContext, type BenchReport, type ContenderResult, type TargetResult } from './report.js';

/** The issue's targets; they live here, never in tests. */
export const REPORT_TARGETS = { maxCliS: 2, maxDataBytes: 5_000_000, maxInteractiveS: 3 } as const;

const CHROMIUM = '/usr/bin/chromium';

const SMALL_SHAPE: DfShape = {
  ...DF_SHAPE,
  baseFiles: 100,
  runtimeFiles: 50,
  appFiles: 25,
  containers: 20,
  inNewDirs: 40,
  volumeEvery: 10,
};

export async function runReportBench(ctx: BenchContext): Promise<BenchReport> {
  const shape = process.env.STRATA_BENCH_REPORT_SMALL === '1' ? SMALL_SHAPE : DF_SHAPE;
  const { root, info } = await ensureDfStore(shape, ctx.log);
  const scratch = await makeScratchDir('strata-bench-report');
  try {
    const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
    const html = path.join(scratch, 'report.html');
    // Every container's usage.json written, as any df leaves them.
    await run({ file: process.execPath, args: [bin, '--root', root, 'system', 'df'], cwd: ctx.repoRoot });
    const reportCommand: Command = { file: process.execPath, args: [bin, '--root', root, 'report', '-o', html], cwd: ctx.repoRoot };
    const sides: { name: string; describe: string; once(): Promise<Sample> }[] = [
      {
        name: 'strata report',
        describe: 'node bin/strata.js --root <store> report -o report.html (whole store, sizes cached)',
        once: () => measure(reportCommand, scratch),
      },
      {
        name: "node -e '' (start-up only)",
        describe: "bare node -e '': Node's own start-up",
        once: () => measure({ file: process.execPath, args: ['-e', ''] }, scratch),
      },
    ];
    const samples = new Map<string, Sample[]>(sides.map((s) => [s.name, []]));
    for (let round = 0; round <= ctx.runs; round++) {
      for (const side of sides) {
        await settleDisk();
        const sample = await side.once();
        if (round > 0) samples.get(side.name)!.push(sample);
        ctx.log(`${round === 0 ? 'warm-up' : `run ${round}/${ctx.runs}`}  ${side.name.padEnd(26)} ${sample.wallS.toFixed(2)} s`);
      }
    }
    const contenders: ContenderResult[] = sides.map((s) => summarize(s.name, s.describe, samples.get(s.name)!, null));
    const cli = contenders[0]!;
    const data = embeddedDataBytes(await fsp.readFile(html, 'utf8'));
    const page = await pageReady(ctx, html);
    contenders.push(page.result);
    const targets: TargetResult[] = [
      {
        status: cli.wallS! <= REPORT_TARGETS.maxCliS ? 'PASS' : 'MISS',
        target: `strata report in at most ${REPORT_TARGETS.maxCliS} s of CLI time (cached sizes)`,
        found: `${cli.wallS!.toFixed(2)} s (Node start-up alone ${contenders[1]!.wallS!.toFixed(2)} s)`,
      },
      {
        status: data <= REPORT_TARGETS.maxDataBytes ? 'PASS' : 'MISS',
        target: `the page's data at most ${REPORT_TARGETS.maxDataBytes.toLocaleString('en-US')} bytes`,
        found: `${data.toLocaleString('en-US')} bytes of JSON in a ${fs.statSync(html).size.toLocaleString('en-US')}-byte page`,
      },
      page.result.skipped !== undefined
        ? { status: 'SKIP', target: `the page interactive in at most ${REPORT_TARGETS.maxInteractiveS} s`, found: page.result.skipped }
        : {
            status: page.result.wallS! <= REPORT_TARGETS.maxInteractiveS ? 'PASS' : 'MISS',
            target: `the page interactive in at most ${REPORT_TARGETS.maxInteractiveS} s in headless chromium`,
            found: `${page.result.wallS!.toFixed(2)} s from navigation start to ready (median of ${ctx.runs})`,
          },
    ];
    return {
      name: 'report',
      title: `strata report over a store of ${shape.images} images, ${shape.containers} containers and ${info.upperFiles.toLocaleString('en-US')} upper files`,
      contenders,
      targets,
      notes: [
        `the df benchmark's store (cache key ${info.key}); ${ctx.runs} measured runs after one warm-up each`,
        'page interactive: a fresh page per run in one chromium, file:// load until body[data-ready]; the row has no CPU or RSS figures',
      ],
    };
  } finally {
    await removeTree(scratch);
  }
}

function embeddedDataBytes(html: string): number {
  const match = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  if (match === null) throw new Error('the report has no embedded data');
  return Buffer.byteLength(match[1]!);
}

/** Median time to ready over ctx.runs loads; skipped, with the reason, without chromium. */
async function pageReady(ctx: BenchContext, html: string): Promise<{ result: ContenderResult }> {
  const name = 'page ready in chromium';
  const describe = `headless ${CHROMIUM} via playwright-core: performance.now() when the page's script has drawn everything`;
  if (!fs.existsSync(CHROMIUM)) return { result: skipped(name, describe, `${CHROMIUM} is not installed (Debian package chromium)`) };
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  try {
    const samples: Sample[] = [];
    for (let round = 0; round <= ctx.runs; round++) {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`file://${html}`);
      await page.waitForSelector('body[data-ready="1"]', { timeout: 120_000 });
      const readyMs = await page.evaluate(() => (window as unknown as { reportReadyAt: number }).reportReadyAt);
      await page.close();
      if (errors.length > 0) throw new Error(`the report page failed: ${errors[0]}`);
      if (round > 0) samples.push({ wallS: readyMs / 1000, userS: 0, sysS: 0, peakRssMiB: 0 });
      ctx.log(`${round === 0 ? 'warm-up' : `run ${round}/${ctx.runs}`}  ${name.padEnd(26)} ${(readyMs / 1000).toFixed(2)} s`);
    }
    return { result: summarize(name, describe, samples, null) };
  } finally {
    await browser.close();
  }
}
