import test from 'ava';
import { FilterArgs, invalidFilter } from '../src/filter-args.js';
import { collectFilter } from '../src/cli/filters.js';

const args = (...pairs: Array<[string, string]>) => pairs.reduce((a, [k, v]) => a.add(k, v), new FilterArgs());

test('match: unset keys match everything; values are unanchored expressions, any one suffices', (t) => {
  const f = args(['name', '^web'], ['name', 'db$']);
  t.true(args().match('name', 'anything'));
  t.true(f.match('name', 'web1'));
  t.true(f.match('name', 'maindb'));
  t.false(f.match('name', 'a-web'));
  t.true(args(['name', 'e']).match('name', 'web'), 'unanchored, as Go regexp.MatchString');
  t.true(args(['name', '(?i)^WEB']).match('name', 'web'), "Go's leading flag group");
  t.false(args(['name', '(']).match('name', 'a(b'), 'an invalid expression matches nothing');
  t.true(args(['name', '(']).match('name', '('), '… except the exact string');
});

test('exactMatch compares whole values', (t) => {
  t.true(args(['dangling', 'true']).exactMatch('dangling', 'true'));
  t.false(args(['dangling', 'truex']).exactMatch('dangling', 'true'));
  t.true(args().exactMatch('dangling', 'true'));
});

test('matchKeyValues: key or key=value, and every value must hold (Docker MatchKVList)', (t) => {
  const labels = { tier: 'back', env: 'prod', empty: '' };
  t.true(args().matchKeyValues('label', {}));
  t.true(args(['label', 'tier']).matchKeyValues('label', labels));
  t.true(args(['label', 'tier=back'], ['label', 'env']).matchKeyValues('label', labels));
  t.false(args(['label', 'tier=back'], ['label', 'zone']).matchKeyValues('label', labels));
  t.false(args(['label', 'tier=front']).matchKeyValues('label', labels));
  t.true(args(['label', 'empty=']).matchKeyValues('label', labels));
  t.false(args(['label', 'tier=']).matchKeyValues('label', labels));
  t.true(args(['label', 'a=b=c']).matchKeyValues('label', { a: 'b=c' }), 'only the first = splits');
  t.false(args(['label', 'tier']).matchKeyValues('label', null));
  t.false(args(['label', 'constructor']).matchKeyValues('label', { tier: 'x' }), 'own keys only');
});

test('validate names the first unknown key; invalidFilter prints values as Docker does', (t) => {
  t.notThrows(() => args(['name', 'x']).validate(['name']));
  t.is(t.throws(() => args(['name', 'x'], ['colour', 'red']).validate(['name']))?.message, "Invalid filter 'colour'");
  t.is(invalidFilter('status', 'foo').message, "Invalid filter 'status=foo'");
  t.is(invalidFilter('dangling', ['yes', 'no']).message, "Invalid filter 'dangling=[yes no]'");
  t.is(invalidFilter('status', 'foo').code, 'EUSAGE');
});

test('collectFilter reads --filter as docker/cli: lower-cased trimmed key, trimmed value, repeated values kept once', (t) => {
  let f = collectFilter(' Name = web ', undefined);
  f = collectFilter('name=web', f);
  f = collectFilter('label=a=b', f);
  f = collectFilter('', f);
  t.deepEqual(f.keys(), ['name', 'label']);
  t.deepEqual(f.get('name'), ['web']);
  t.deepEqual(f.get('label'), ['a=b']);
  t.deepEqual(collectFilter('id=', undefined).get('id'), ['']);
  t.deepEqual(collectFilter('=name=web', undefined).get('name'), ['web'], 'the short form -f=name=web');
  const err = t.throws(() => collectFilter('running', undefined));
  t.is(err?.message, 'bad format of filter (expected name=value)');
  t.is((err as { code?: string }).code, 'commander.invalidArgument');
});
