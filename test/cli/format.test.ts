import test from 'ava';
import { ellipsis, formatG, humanDuration, humanSize, table } from '../../src/cli/format.js';
import { compileTemplate, goString } from '../../src/cli/template.js';

// Expected strings are what Docker 20.10 printed for the same numbers (../shared/conformance/docker).
test('sizes print like docker: %.3g in image tables, %.4g in system df', (t) => {
  t.is(humanSize(1_982_876, 3), '1.98MB');
  t.is(humanSize(1_982_876), '1.983MB');
  t.is(humanSize(69_094_000, 3), '69.1MB');
  t.is(humanSize(69_094_000), '69.09MB');
  t.is(humanSize(63), '63B');
  t.is(humanSize(0), '0B');
  t.is(humanSize(3_146_000), '3.146MB');
  t.is(humanSize(8_390_000, 3), '8.39MB');
  t.is(humanSize(12_500, 3), '12.5kB');
});

// go-units formats with Go's %g: an exponent once the value needs more digits than the
// precision, and exact ties rounded to even. Expected strings are what Go prints.
test('sizes just under a unit boundary print as Go prints them (1e+03kB)', (t) => {
  t.is(humanSize(999_999, 3), '1e+03kB');
  t.is(humanSize(999_999), '1000kB');
  t.is(humanSize(999_500, 3), '1e+03kB');
  t.is(humanSize(999_499, 3), '999kB');
  t.is(humanSize(999, 3), '999B');
  t.is(humanSize(1_000, 3), '1kB');
  t.is(humanSize(8_389_000, 3), '8.39MB');
  t.is(humanSize(8_389_000), '8.389MB');
});

test('%g rounds the exact value of the double, ties to even, as Go does', (t) => {
  t.is(humanSize(1_125, 3), '1.12kB'); // 1.125 is exact: a tie, 2 is even
  t.is(humanSize(1_135, 3), '1.14kB'); // 1.135 is 1.13500000000000000888…: not a tie
  t.is(formatG(0.125, 2), '0.12');
  t.is(formatG(2.5, 1), '2');
  t.is(formatG(3.5, 1), '4');
  t.is(formatG(123_456, 3), '1.23e+05');
  t.is(formatG(0.000_012_34, 3), '1.23e-05');
  t.is(formatG(0.000_123_4, 3), '0.000123');
  t.is(formatG(100, 3), '100');
});

test('durations print like docker', (t) => {
  t.is(humanDuration(300), 'Less than a second');
  t.is(humanDuration(1000), '1 second');
  t.is(humanDuration(44_000), '44 seconds');
  t.is(humanDuration(61_000), 'About a minute');
  t.is(humanDuration(3 * 3_600_000), '3 hours');
  t.is(humanDuration(3 * 86_400_000), '3 days');
});

test('tables align like docker/cli tabwriter (min width 10, padding 3)', (t) => {
  const out = table([
    ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
    ['lab/committed', '1.0', '8a8c7cf1ee89', '10 seconds ago', '1.98MB'],
    ['lab/web', 'latest', '84d0d8c85944', '12 seconds ago', '1.98MB'],
  ]);
  t.is(out,
    'REPOSITORY      TAG       IMAGE ID       CREATED          SIZE\n' +
    'lab/committed   1.0       8a8c7cf1ee89   10 seconds ago   1.98MB\n' +
    'lab/web         latest    84d0d8c85944   12 seconds ago   1.98MB\n');
});

test('long text is cut to docker\'s 45 characters with an ellipsis', (t) => {
  t.is(ellipsis('umoci raw add-layer empty.tar (1024 zero bytes of padding)', 45), 'umoci raw add-layer empty.tar (1024 zero byt…');
  t.is(ellipsis('short', 45), 'short');
});

test('templates: fields, json, join, index and Go value printing', (t) => {
  const value = { Id: 'sha256:ab', RootFS: { Layers: ['sha256:1', 'sha256:2'] }, GraphDriver: { Data: { UpperDir: '/u' } }, Labels: { 'a.b': 'c' } };
  t.is(compileTemplate('{{.Id}}').render(value), 'sha256:ab');
  t.is(compileTemplate('{{.RootFS.Layers}}').render(value), '[sha256:1 sha256:2]');
  t.is(compileTemplate('{{json .RootFS}}').render(value), '{"Layers":["sha256:1","sha256:2"]}');
  t.is(compileTemplate('{{join .RootFS.Layers ","}}').render(value), 'sha256:1,sha256:2');
  t.is(compileTemplate('{{index .Labels "a.b"}}').render(value), 'c');
  t.is(compileTemplate('{{.GraphDriver.Data.UpperDir}}\\t{{len .RootFS.Layers}}').render(value), '/u\t2');
  t.is(goString({ b: 1, a: [true] }), 'map[a:[true] b:1]');
});

test('a template naming a missing field is a usage error, not a crash', (t) => {
  const err = t.throws(() => compileTemplate('{{.Nope}}').render({ Id: 'x' }));
  t.is((err as { code?: string }).code, 'EUSAGE');
  t.regex(err!.message, /can't evaluate field Nope/);
});

test('table templates print a docker-style header', (t) => {
  const tpl = compileTemplate('table {{.Repository}}\\t{{.ID}}');
  t.true(tpl.isTable);
  t.is(tpl.header(), 'REPOSITORY\tIMAGE ID');
});
