import test from 'ava';
import { entrypointAndCmd, envFlagEntry, labelMap, mergeEnv, mergeLabels, parseKeyValueFile } from '../../src/container/run-config.js';

const env: Record<string, string> = { HOME: '/home/me', EMPTY: '' };
const lookup = (key: string) => env[key];

test("-e KEY=VALUE is kept as given; -e KEY takes strata's own value, and stays a bare KEY when strata has none (as docker/cli)", (t) => {
  t.is(envFlagEntry('A=1=2', lookup), 'A=1=2');
  t.is(envFlagEntry('A=', lookup), 'A=');
  t.is(envFlagEntry('HOME', lookup), 'HOME=/home/me');
  t.is(envFlagEntry('EMPTY', lookup), 'EMPTY=');
  t.is(envFlagEntry('NOT_SET', lookup), 'NOT_SET');
  t.throws(() => envFlagEntry('=x', lookup), {
    code: 'EUSAGE',
    message: 'invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x',
  });
});

test('an env file is read as Docker reads it: comments, blank lines, leading space, no quote processing', (t) => {
  const text = Buffer.from('\uFEFF# a comment\n\n   A=1\nB= "quoted" \t\n\tC=x=y\r\nHOME\nNOT_SET\n  # indented comment\nD=');
  t.deepEqual(parseKeyValueFile(text, 'app.env', lookup), ['A=1', 'B= "quoted" \t', 'C=x=y', 'HOME=/home/me', 'D=']);
});

test('a label file drops bare keys (Docker reads it without a lookup)', (t) => {
  t.deepEqual(parseKeyValueFile(Buffer.from('a=b\nbare\n'), 'labels'), ['a=b']);
});

test('a bad env file line names the file and the reason', (t) => {
  t.throws(() => parseKeyValueFile(Buffer.from('OK=1\nMY VAR=1\n'), 'app.env', lookup), {
    code: 'EUSAGE',
    message: "app.env: poorly formatted environment: variable 'MY VAR' contains whitespaces",
  });
  t.throws(() => parseKeyValueFile(Buffer.from('=1\n'), 'app.env', lookup), {
    code: 'EUSAGE',
    message: "app.env: poorly formatted environment: no variable name on line '=1'",
  });
  t.throws(() => parseKeyValueFile(Buffer.from([0x41, 0x3d, 0x31, 0x0a, 0x42, 0x3d, 0xff, 0x0a]), 'app.env', lookup), {
    code: 'EUSAGE',
    message: 'env file app.env contains invalid utf8 bytes at line 2',
  });
});

test("Env merges as Docker's: the container's entries first, then the image's whose key they do not set", (t) => {
  t.deepEqual(mergeEnv([], ['PATH=/bin', 'A=1']), ['PATH=/bin', 'A=1']);
  t.deepEqual(mergeEnv(['A=2', 'B=3', 'A=4'], ['PATH=/bin', 'A=1']), ['A=2', 'B=3', 'A=4', 'PATH=/bin']);
  t.deepEqual(mergeEnv(['PATH'], ['PATH=/bin']), ['PATH'], 'a bare key still overrides by key');
});

test("labels: -l KEY is an empty value, a later key wins, and the container's labels win over the image's", (t) => {
  t.deepEqual(labelMap(['a=1', 'b', 'a=2', 'c=x=y']), { a: '2', b: '', c: 'x=y' });
  t.deepEqual(mergeLabels({ a: 'mine' }, { a: 'image', z: 'image' }), { a: 'mine', z: 'image' });
  t.deepEqual(mergeLabels({}, null), {});
});

test('--entrypoint drops the image\'s Cmd; "" clears it and then needs a command; arguments replace Cmd', (t) => {
  const image = { Entrypoint: ['/entry'], Cmd: ['default'] };
  t.deepEqual(entrypointAndCmd(image, undefined, []), { entrypoint: ['/entry'], cmd: ['default'] });
  t.deepEqual(entrypointAndCmd(image, undefined, ['x']), { entrypoint: ['/entry'], cmd: ['x'] });
  t.deepEqual(entrypointAndCmd(image, '/bin/sh', []), { entrypoint: ['/bin/sh'], cmd: null });
  t.deepEqual(entrypointAndCmd(image, '/bin/sh', ['-c', 'x']), { entrypoint: ['/bin/sh'], cmd: ['-c', 'x'] });
  t.deepEqual(entrypointAndCmd(image, '', ['ls']), { entrypoint: null, cmd: ['ls'] });
  t.throws(() => entrypointAndCmd(image, '', []), { code: 'EUSAGE', message: 'No command specified' });
});
