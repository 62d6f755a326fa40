import test from 'ava';
import { FilterArgs } from '../../src/filter-args.js';
import { selectContainers } from '../../src/container/filter.js';
import type { ContainerRecord, ContainerStatus, MountSpec } from '../../src/container/record.js';
import type { Store } from '../../src/store/root.js';

/** Only ancestor= reads the store; the other rules work on the records alone. */
const noStore = {} as Store;

function record(
  name: string,
  idHex: string,
  minute: number,
  status: ContainerStatus,
  extra: { labels?: Record<string, string>; mounts?: MountSpec[]; exitCode?: number } = {},
): ContainerRecord {
  return {
    id: idHex.padEnd(64, '0'),
    name,
    image: 'sha256:'.padEnd(71, 'a'),
    imageRef: 'demo',
    layers: [],
    created: `2026-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`,
    readOnly: false,
    mounts: extra.mounts ?? [],
    command: [],
    state: { status, startedAt: status === 'created' ? null : '2026-01-01T01:00:00.000Z', finishedAt: null, exitCode: extra.exitCode ?? 0 },
    ...(extra.labels ? { labels: extra.labels } : {}),
  } as ContainerRecord;
}

const RECORDS = [
  record('a1', 'a1', 1, 'running', { labels: { tier: 'front' }, mounts: [{ type: 'tmpfs', destination: '/tmp' }] }),
  record('b2', 'b2', 2, 'exited', {
    exitCode: 3,
    mounts: [{ type: 'volume', name: 'vol', destination: '/v', readOnly: false, anonymous: false }],
  }),
  record('c3', 'a3', 3, 'created', { labels: { tier: 'back' } }),
  record('d4', 'd4', 4, 'running', { labels: { tier: 'back', env: 'prod' } }),
];

const select = async (options: { all?: boolean; limit?: number; filters?: Array<[string, string]> }) =>
  (
    await selectContainers(noStore, RECORDS, {
      all: options.all,
      limit: options.limit,
      filters: (options.filters ?? []).reduce((f, [k, v]) => f.add(k, v), new FilterArgs()),
    })
  ).map((c) => c.name);

test('newest first; without -a running only; -a everything', async (t) => {
  t.deepEqual(await select({}), ['d4', 'a1']);
  t.deepEqual(await select({ all: true }), ['d4', 'c3', 'b2', 'a1']);
});

test('-n N counts only what the filters keep, and shows every state', async (t) => {
  t.deepEqual(await select({ limit: 2 }), ['d4', 'c3']);
  t.deepEqual(await select({ limit: 1, filters: [['label', 'tier=front']] }), ['a1']);
  t.deepEqual(await select({ limit: 0 }), ['d4', 'a1'], '0 is no limit');
});

test('status= implies -a; exited= takes only containers that ran, and does not', async (t) => {
  t.deepEqual(
    await select({
      filters: [
        ['status', 'exited'],
        ['status', 'created'],
      ],
    }),
    ['c3', 'b2'],
  );
  t.deepEqual(await select({ all: true, filters: [['exited', '3']] }), ['b2']);
  t.deepEqual(await select({ all: true, filters: [['exited', '0']] }), [], 'running and created containers have no exit code to match');
  t.deepEqual(await select({ filters: [['exited', '3']] }), []);
});

test("id= needs a unique prefix; an ambiguous one matches nothing, as the daemon's truncindex", async (t) => {
  t.deepEqual(await select({ all: true, filters: [['id', 'a']] }), []);
  t.deepEqual(await select({ all: true, filters: [['id', 'a3']] }), ['c3']);
  t.deepEqual(
    await select({
      all: true,
      filters: [
        ['id', 'a'],
        ['id', 'd'],
      ],
    }),
    ['d4'],
  );
});

test('before=/since= count among what name=/id= kept (Docker narrows first)', async (t) => {
  t.deepEqual(await select({ all: true, filters: [['before', 'c3']] }), ['b2', 'a1']);
  t.deepEqual(await select({ all: true, filters: [['since', 'b2']] }), ['d4', 'c3']);
  t.deepEqual(
    await select({
      all: true,
      filters: [
        ['since', 'b2'],
        ['before', 'd4'],
      ],
    }),
    ['c3'],
  );
  t.deepEqual(
    await select({
      all: true,
      filters: [
        ['name', '^[ab]'],
        ['before', 'c3'],
      ],
    }),
    [],
    'c3 is not among the names kept',
  );
  t.deepEqual(
    await select({
      all: true,
      filters: [
        ['name', '^[abc]'],
        ['before', 'c3'],
      ],
    }),
    ['b2', 'a1'],
  );
  await t.throwsAsync(select({ filters: [['since', 'a1'.padEnd(12, '0')]] }), { message: `no such container ${'a1'.padEnd(12, '0')}` });
});

test('volume= matches volume names and destinations, never a --tmpfs mount', async (t) => {
  t.deepEqual(await select({ all: true, filters: [['volume', 'vol']] }), ['b2']);
  t.deepEqual(await select({ all: true, filters: [['volume', '/v']] }), ['b2']);
  t.deepEqual(await select({ all: true, filters: [['volume', '/tmp']] }), []);
});

test('records without labels match no label= filter; an unknown key is refused before anything is read', async (t) => {
  t.deepEqual(await select({ all: true, filters: [['label', 'tier']] }), ['d4', 'c3', 'a1']);
  await t.throwsAsync(select({ filters: [['colour', 'red']] }), { message: "Invalid filter 'colour'" });
  await t.throwsAsync(select({ filters: [['status', 'Running']] }), { message: "Invalid filter 'status=Running'" });
});

test("Docker's keys for networks, ports, health, tasks and isolation: a strata container has none of them", async (t) => {
  const all = ['d4', 'c3', 'b2', 'a1'];
  const cases: Array<[Array<[string, string]>, string[] | string]> = [
    [[['network', 'bridge']], []],
    [[['publish', '80']], []],
    [[['expose', '8000-8080/udp']], []],
    [[['health', 'none']], all],
    [[['health', 'healthy']], []],
    [
      [
        ['health', 'healthy'],
        ['health', 'none'],
      ],
      all,
    ],
    [[['is-task', 'false']], all],
    [[['is-task', 'true']], []],
    [[['isolation', 'hyperv']], all],
    [[['health', 'ok']], 'Unrecognised filter value for health: ok'],
    [[['is-task', 'yes']], "Invalid filter 'is-task=[yes]'"],
    [[['publish', '8080:80']], "filter for 'publish' should not contain ':': 8080:80"],
    [[['expose', '80x']], 'error while looking up for expose 80x: strconv.ParseUint: parsing "80x": invalid syntax'],
    [[['publish', '70000']], 'error while looking up for publish 70000: strconv.ParseUint: parsing "70000": value out of range'],
    [[['publish', '90-80']], 'error while looking up for publish 90-80: Invalid range specified for the Port: 90-80'],
    [[['publish', '/tcp']], 'error while looking up for publish /tcp: Empty string specified for ports.'],
  ];
  for (const [filters, expected] of cases) {
    const title = filters.map(([k, v]) => `${k}=${v}`).join(' ');
    if (typeof expected === 'string') await t.throwsAsync(select({ all: true, filters }), { message: expected }, title);
    else t.deepEqual(await select({ all: true, filters }), expected, title);
  }
});
