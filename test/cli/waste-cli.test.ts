import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { buildImage } from '../helpers/image-builder.js';
import { containerFromLayers } from '../helpers/container-fixture.js';
import { diveTestLayers } from '../helpers/dive-test-image.js';
import { snapshotContent } from '../helpers/store-snapshot.js';
import { parseByteSize } from '../../src/usage/waste-rules.js';

/** A store holding dive's test image as `dive-test:latest`, loaded once for every test here. */
async function diveStore(t: ExecutionContext): Promise<string> {
  const { store, dir } = await tmpStore(t);
  const file = path.join(dir, 'dive-test.tar');
  await fs.writeFile(file, await buildImage({ format: 'docker', repoTags: ['dive-test:latest'], layers: diveTestLayers }));
  t.is((await strata(store.root, ['load', '-i', file])).code, 0);
  return store.root;
}

const FIGURES = `Efficiency score:   98.44 % (dive's: smallest copy of each path / all copies)
Wasted (dive):      32.02kB (32025 bytes): every copy of each path stored more than once
Reclaimable:        19.21kB (19215 bytes): all but the smallest copy of each of those paths
Size:               1.221MB (1220598 bytes) in 14 layers; 66.24kB above the base layer; wasted / that: 48.35 % (dive's userWastedPercent)

`;
const TABLE = `Paths stored more than once: 3; layers counted from 0 at the base
COUNT     TOTAL     RECLAIMABLE   LAYERS            PATH
2         12.81kB   6.405kB       3, 4              /root/example/somefile1.txt
2         12.81kB   6.405kB       7, 13             /root/saved.txt
2         6.405kB   6.405kB       6, 7 (whiteout)   /root/example/somefile3.txt
`;

test("du --waste prints dive's figures, the reclaimable bytes and the paths stored more than once", async (t) => {
  const root = await diveStore(t);
  const before = await snapshotContent(root);
  const out = await strata(root, ['du', '--waste', 'dive-test']);
  t.deepEqual(out, { code: 0, stdout: FIGURES + TABLE, stderr: '' });
  t.deepEqual(await snapshotContent(root), before, 'measuring writes nothing');
});

test('du --waste -n limits the table to the largest paths', async (t) => {
  const root = await diveStore(t);
  const out = await strata(root, ['du', '--waste', '-n', '1', 'dive-test']);
  t.is(
    out.stdout,
    `${FIGURES}Paths stored more than once: the 1 largest of 3 (-n 0 for all); layers counted from 0 at the base
COUNT     TOTAL     RECLAIMABLE   LAYERS    PATH
2         12.81kB   6.405kB       3, 4      /root/example/somefile1.txt
`,
  );
  t.is((await strata(root, ['du', '--waste', '--top', '0', 'dive-test'])).stdout, FIGURES + TABLE);
});

test('du --waste --format json holds every figure and every path with its layers', async (t) => {
  const root = await diveStore(t);
  const out = await strata(root, ['du', '--waste', '--format', 'json', '-n', '1', 'dive-test']);
  t.is(out.code, 0);
  const report = JSON.parse(out.stdout);
  t.like(report, {
    efficiencyScore: 0.9844212134184309,
    wastedBytes: 32025,
    reclaimableBytes: 19215,
    sizeBytes: 1220598,
    userSizeBytes: 66237,
    userWastedPercent: 0.4834911001404049,
  });
  t.is(report.ci, undefined);
  t.is(report.layers.length, 14);
  t.deepEqual(report.paths[1], {
    path: '/root/saved.txt',
    count: 2,
    bytes: 12810,
    reclaimableBytes: 6405,
    occurrences: [
      { layer: 7, bytes: 6405, whiteout: false },
      { layer: 13, bytes: 6405, whiteout: false },
    ],
  });
  t.is(report.paths.length, 3, 'JSON lists every path whatever -n says');
});

const evaluation = (lines: string[], summary: string) => `\nEvaluation:\n${lines.map((l) => `  ${l}`).join('\n')}\n\n${summary}\n`;

// dive's own CI cases for this image (cmd/dive/cli/internal/command/ci/evaluator_test.go), by its flag names.
const ciCases: [string, string[], number, string][] = [
  [
    "dive's defaults",
    [],
    1,
    evaluation(
      [
        'FAIL  highest-user-wasted-percent (too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes=0.48 > threshold=0.1))',
        'SKIP  highest-wasted-bytes (disabled)',
        'PASS  lowest-efficiency (0.9)',
      ],
      'FAIL [pass:1 fail:1 skip:1]',
    ),
  ],
  [
    'all fail',
    ['--lowest-efficiency', '0.99', '--highest-wasted-bytes', '1B', '--highest-user-wasted-percent', '0.01'],
    1,
    evaluation(
      [
        'FAIL  highest-user-wasted-percent (too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes=0.48 > threshold=0.01))',
        'FAIL  highest-wasted-bytes (too many bytes wasted (wasted-bytes=32025 > threshold=1))',
        'FAIL  lowest-efficiency (image efficiency is too low (efficiency=0.98 < threshold=0.99))',
      ],
      'FAIL [fail:3]',
    ),
  ],
  [
    'all pass',
    ['--lowest-efficiency', '0.9', '--highest-wasted-bytes', '50kB', '--highest-user-wasted-percent', '0.5'],
    0,
    evaluation(
      ['PASS  highest-user-wasted-percent (0.5)', 'PASS  highest-wasted-bytes (50kB)', 'PASS  lowest-efficiency (0.9)'],
      'PASS [pass:3]',
    ),
  ],
  [
    'all disabled',
    ['--lowest-efficiency', 'disabled', '--highest-wasted-bytes', 'off', '--highest-user-wasted-percent', 'false'],
    0,
    evaluation(
      ['SKIP  highest-user-wasted-percent (disabled)', 'SKIP  highest-wasted-bytes (disabled)', 'SKIP  lowest-efficiency (disabled)'],
      'PASS [skip:3]',
    ),
  ],
  [
    'mixed',
    ['--lowest-efficiency', '0.9', '--highest-wasted-bytes', '1B', '--highest-user-wasted-percent', '0.5'],
    1,
    evaluation(
      [
        'PASS  highest-user-wasted-percent (0.5)',
        'FAIL  highest-wasted-bytes (too many bytes wasted (wasted-bytes=32025 > threshold=1))',
        'PASS  lowest-efficiency (0.9)',
      ],
      'FAIL [pass:2 fail:1]',
    ),
  ],
  [
    'wasted bytes exactly at the threshold pass',
    ['--highest-wasted-bytes', '32025', '--highest-user-wasted-percent', 'disabled'],
    0,
    evaluation(
      ['SKIP  highest-user-wasted-percent (disabled)', 'PASS  highest-wasted-bytes (32025)', 'PASS  lowest-efficiency (0.9)'],
      'PASS [pass:2 skip:1]',
    ),
  ],
];

for (const [name, flags, code, expected] of ciCases) {
  test(`du --ci: ${name} → exit ${code}`, async (t) => {
    const root = await diveStore(t);
    const out = await strata(root, ['du', '--ci', ...flags, 'dive-test']);
    t.deepEqual(out, { code, stdout: FIGURES + TABLE + expected, stderr: '' });
  });
}

test('du --ci --format json adds the verdict and still exits 1 on a failed rule', async (t) => {
  const root = await diveStore(t);
  const out = await strata(root, ['du', '--ci', '--format', 'json', '--highest-wasted-bytes', '20MB', 'dive-test']);
  t.is(out.code, 1);
  t.deepEqual(JSON.parse(out.stdout).ci, {
    pass: false,
    results: [
      {
        rule: 'highest-user-wasted-percent',
        status: 'fail',
        message: 'too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes=0.48 > threshold=0.1)',
      },
      { rule: 'highest-wasted-bytes', status: 'pass', message: '20MB' },
      { rule: 'lowest-efficiency', status: 'pass', message: '0.9' },
    ],
  });
});

const badInput: [string[], number, string][] = [
  [['du', '--lowest-efficiency', '0.5', 'dive-test'], 1, 'strata: --lowest-efficiency needs --ci\n'],
  [['du', '--waste', '--highest-wasted-bytes', '1MB', 'dive-test'], 1, 'strata: --highest-wasted-bytes needs --ci\n'],
  [['du', '--top', '3', 'dive-test'], 1, 'strata: --top needs --waste\n'],
  [
    ['du', '--ci', '--lowest-efficiency', '1.5', 'dive-test'],
    1,
    'strata: --lowest-efficiency must be a ratio between 0 and 1, given "1.5"\n',
  ],
  [
    ['du', '--ci', '--highest-user-wasted-percent', 'lots', 'dive-test'],
    1,
    'strata: invalid --highest-user-wasted-percent "lots": not a number\n',
  ],
  [
    ['du', '--ci', '--highest-wasted-bytes', '20 parsecs', 'dive-test'],
    1,
    'strata: invalid --highest-wasted-bytes "20 parsecs": unknown unit "parsecs"\n',
  ],
  [
    ['du', '--waste', '--format', '{{.Size}}', 'dive-test'],
    1,
    'strata: --waste prints a table, or JSON with --format json; not "{{.Size}}"\n',
  ],
  [
    ['du', '--waste', '-n', 'x', 'dive-test'],
    125,
    `invalid argument "x" for "-n, --top" flag: strconv.ParseInt: parsing "x": invalid syntax\nSee 'strata du --help'.\n`,
  ],
  [['du', '--waste', 'nothing-here'], 1, 'strata: No such image: nothing-here\n'],
];

test('bad flags and names are one-line errors, nothing printed on stdout, the store unchanged', async (t) => {
  const root = await diveStore(t);
  const before = await snapshotContent(root);
  for (const [args, code, stderr] of badInput) {
    t.deepEqual(await strata(root, args), { code, stdout: '', stderr }, args.join(' '));
  }
  t.deepEqual(await snapshotContent(root), before);
});

test("du --waste of a container counts its upper as the last layer; du without --waste is today's breakdown", async (t) => {
  const { store, view } = await containerFromLayers(t, 'oci', [[{ path: 'data/big.bin', size: 5000, seed: 1 }]]);
  await view.chmod('/data/big.bin', 0o600);
  const out = await strata(store.root, ['du', '--waste', 'app1']);
  t.is(out.code, 0);
  t.is(
    out.stdout,
    `Efficiency score:   50.00 % (dive's: smallest copy of each path / all copies)
Wasted (dive):      10kB (10000 bytes): every copy of each path stored more than once
Reclaimable:        5kB (5000 bytes): all but the smallest copy of each of those paths
Size:               10kB (10000 bytes) in 2 layers (the last: the upper dir); 5kB above the base layer; wasted / that: 200.00 % (dive's userWastedPercent)

Paths stored more than once: 1; layers counted from 0 at the base
COUNT     TOTAL     RECLAIMABLE   LAYERS     PATH
2         10kB      5kB           0, upper   /data/big.bin
`,
  );
  t.regex((await strata(store.root, ['du', 'app1'])).stdout, /^LAYER {10}SIZE {6}VISIBLE {3}HIDDEN\n/);
});

test('an image with nothing stored twice says so', async (t) => {
  const { store, dir } = await tmpStore(t);
  const file = path.join(dir, 'one.tar');
  await fs.writeFile(file, await buildImage({ format: 'oci', repoTags: ['one:1'], layers: [[{ path: 'a.txt', content: 'abc' }]] }));
  await strata(store.root, ['load', '-i', file]);
  t.is(
    (await strata(store.root, ['du', '--waste', 'one:1'])).stdout,
    `Efficiency score:   100.00 % (dive's: smallest copy of each path / all copies)
Wasted (dive):      0B (0 bytes): every copy of each path stored more than once
Reclaimable:        0B (0 bytes): all but the smallest copy of each of those paths
Size:               3B (3 bytes) in 1 layer; 0B above the base layer; wasted / that: 0.00 % (dive's userWastedPercent)

No path is stored more than once.
`,
  );
});

test('sizes are read as dive reads them (go-humanize): decimal and binary units, any case, commas', (t) => {
  t.is(parseByteSize('20MB'), 20_000_000);
  t.is(parseByteSize('20Mb'), 20_000_000); // dive's own .dive-ci spells it so
  t.is(parseByteSize('50kB'), 50_000);
  t.is(parseByteSize('1.5GiB'), 1_610_612_736);
  t.is(parseByteSize('42 k'), 42_000);
  t.is(parseByteSize('1,000'), 1000);
  t.is(parseByteSize('5.9'), 5);
  t.is(parseByteSize('1Ki'), 1024);
  t.throws(() => parseByteSize('MB'), { message: 'invalid size "MB": not a size' });
  t.throws(() => parseByteSize('-1'), { message: 'invalid size "-1": not a size' });
  t.throws(() => parseByteSize('3 zettabytes'), { message: 'invalid size "3 zettabytes": unknown unit "zettabytes"' });
});

test('on a terminal du --waste shows its progress over the layers; with --format json it stays quiet', async (t) => {
  const root = await diveStore(t);
  const shown = await strata(root, ['du', '--waste', 'dive-test'], { tty: true, columns: 100 });
  t.is(shown.code, 0);
  t.regex(shown.stdout, /Measuring .* 14\/14/);
  t.true(shown.stdout.endsWith(TABLE));
  const json = await strata(root, ['du', '--waste', '--format', 'json', 'dive-test'], { tty: true, columns: 100 });
  t.is(JSON.parse(json.stdout).wastedBytes, 32025);
});
