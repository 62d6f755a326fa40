import test from 'ava';
import { compilePathPattern, familiarMatch } from '../../src/image/reference-match.js';

/** Go's path.Match: [pattern, name, matches], or an error for a malformed pattern. */
const CASES: Array<[string, string, boolean | 'bad']> = [
  ['abc', 'abc', true],
  ['*', 'abc', true],
  ['*c', 'abc', true],
  ['a*', 'a', true],
  ['a*', 'abc', true],
  ['a*', 'ab/c', false],
  ['a*/b', 'abc/b', true],
  ['a*/b', 'a/c/b', false],
  ['a*b?c*x', 'abxbbxdbxebxczzx', true],
  ['a*b?c*x', 'abxbbxdbxebxczzy', false],
  ['ab[c]', 'abc', true],
  ['ab[b-d]', 'abc', true],
  ['ab[e-g]', 'abc', false],
  ['ab[^c]', 'abc', false],
  ['ab[^b-d]', 'abc', false],
  ['ab[^e-g]', 'abc', true],
  ['a\\*b', 'a*b', true],
  ['a\\*b', 'ab', false],
  ['a?b', 'a☺b', true],
  ['a???b', 'a☺b', false],
  ['a?b', 'a/b', false],
  ['a*b', 'a/b', false],
  ['[\\]a]', ']', true],
  ['[\\-]', '-', true],
  ['[x\\-]', '-', true],
  ['[x\\-]', 'z', false],
  ['[a-ζ]*', 'α', true],
  ['[z-a]', 'm', false],
  ['a.b', 'axb', false],
  ['a+', 'aa', false],
  ['(a)', '(a)', true],
  ['[]a]', ']', 'bad'],
  ['[-]', '-', 'bad'],
  ['[x-]', 'x', 'bad'],
  ['[-x]', 'x', 'bad'],
  ['\\', 'a', 'bad'],
  ['[a-b-c]', 'a', 'bad'],
  ['[', 'a', 'bad'],
  ['[^', 'a', 'bad'],
  ['[^bc', 'a', 'bad'],
  ['a[', 'a', 'bad'],
  ['a/b[', 'x', 'bad'],
];

for (const [pattern, name, expected] of CASES) {
  test(`path.Match(${JSON.stringify(pattern)}, ${JSON.stringify(name)}) is ${String(expected)}`, (t) => {
    if (expected === 'bad') {
      const err = t.throws(() => compilePathPattern(pattern));
      t.is(err?.message, 'syntax error in pattern');
      return;
    }
    t.is(compilePathPattern(pattern).test(name), expected);
  });
}

test('familiarMatch tries repo:tag, then the repository alone (a registry port is not a tag)', (t) => {
  t.true(familiarMatch('app', 'app:1'));
  t.true(familiarMatch('app:1', 'app:1'));
  t.false(familiarMatch('app:2', 'app:1'));
  t.true(familiarMatch('user/*', 'user/app:1'));
  t.false(familiarMatch('*', 'user/app:1'), '* does not cross /');
  t.true(familiarMatch('localhost:5000/app', 'localhost:5000/app:1'));
  t.false(familiarMatch('localhost', 'localhost:5000/app:1'));
  t.false(familiarMatch('docker.io/library/app', 'app:1'), 'patterns match the familiar name, as in Docker');
});
