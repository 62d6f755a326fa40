/** src/layer/pax-records.ts: pax records read byte-exact, malformed ones refused. */
import test from 'ava';
import { PaxError, parsePaxRecords } from '../../src/layer/pax-records.js';
import { paxRecord } from '../helpers/make-tar.js';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

test('values keep every byte: all 256 byte values, a NUL, a newline and invalid UTF-8', (t) => {
  const withNul = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x0a, 0xff, 0xfe, 0x80]);
  const body = Buffer.concat([
    paxRecord('SCHILY.xattr.user.all', ALL_BYTES),
    paxRecord('SCHILY.xattr.security.capability', withNul),
    paxRecord('path', 'héllo/wörld'),
    paxRecord('SCHILY.xattr.user.empty', Buffer.alloc(0)),
  ]);
  const records = parsePaxRecords(body);
  t.deepEqual(
    records.map((r) => r.key),
    ['SCHILY.xattr.user.all', 'SCHILY.xattr.security.capability', 'path', 'SCHILY.xattr.user.empty'],
  );
  t.true(records[0]!.value.equals(ALL_BYTES));
  t.true(records[1]!.value.equals(withNul));
  t.is(records[2]!.value.toString('utf8'), 'héllo/wörld');
  t.is(records[3]!.value.length, 0);
});

test('a value may contain "=" and the record length counts bytes, not characters', (t) => {
  // "é" is two bytes: a parser counting characters would cut the record short.
  const body = Buffer.concat([paxRecord('comment', 'a=b=é'), paxRecord('SCHILY.xattr.user.k', 'v')]);
  const records = parsePaxRecords(body);
  t.deepEqual(
    records.map((r) => [r.key, r.value.toString('utf8')]),
    [
      ['comment', 'a=b=é'],
      ['SCHILY.xattr.user.k', 'v'],
    ],
  );
});

const malformed: Array<[string, Buffer, RegExp]> = [
  ['no length', Buffer.from(' path=x\n'), /pax record at byte 0 does not start with its length/],
  ['a length that is not decimal', Buffer.from('1x path=x\n'), /does not start with its length/],
  ['a length past the end of the header', Buffer.from('99 path=x\n'), /has a length \(99\) beyond its header/],
  ['a length shorter than a record', Buffer.from('3 a=\n'), /has a length \(3\) beyond its header/],
  ['a length one byte short (no newline where it says)', Buffer.from('10 path=xy\n'), /does not end with a newline where its length says/],
  ['no "="', Buffer.from('9 pathxy\n'), /has no KEY=VALUE/],
  ['an empty key', Buffer.from('6 =xy\n'), /has no KEY=VALUE/],
  ['a NUL in the key', Buffer.from('9 pa\0h=x\n'), /has a NUL byte in its key/],
  [
    'garbage after a good record',
    Buffer.concat([paxRecord('path', 'x'), Buffer.from('junk')]),
    /pax record at byte 9 does not start with its length/,
  ],
];

for (const [name, body, reason] of malformed) {
  test(`a record with ${name} is refused`, (t) => {
    const err = t.throws(() => parsePaxRecords(body), { instanceOf: PaxError });
    t.regex(err!.message, reason);
  });
}
