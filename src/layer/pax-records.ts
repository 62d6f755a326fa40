/**
 * The records of a pax extended header, byte-exact (POSIX.1-2001 pax format):
 * each is `LEN KEY=VALUE\n`, where LEN is the decimal length in bytes of the whole
 * record, LEN itself and the newline included. Keys are UTF-8; values are bytes and
 * may hold any byte, NUL and newline included: `SCHILY.xattr.security.capability`
 * is a binary struct. tar-stream decodes values as UTF-8 text, which replaces every
 * invalid sequence, so the values strata applies are read here instead.
 */
export interface PaxRecord {
  key: string;
  value: Buffer;
}

const SPACE = 0x20;
const EQUALS = 0x3d;
const NEWLINE = 0x0a;
/** The shortest record: `5 k=\n`. */
const MIN_RECORD = 5;

/**
 * Every record of `body`, in order (a key may repeat; the last one counts, as in
 * tar-stream and Go's archive/tar). A malformed record throws a reason, which the
 * caller says about its entry: lenient readers stop at one and silently drop the
 * rest, strict ones refuse the archive, so reading past it would let two tools see
 * two different entries.
 */
export function parsePaxRecords(body: Buffer): PaxRecord[] {
  const records: PaxRecord[] = [];
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(SPACE, at);
    const lenText = space < 0 ? '' : body.toString('latin1', at, space);
    if (!/^[0-9]{1,10}$/.test(lenText)) throw new PaxError(`pax record at byte ${at} does not start with its length`);
    const len = Number(lenText);
    const end = at + len;
    if (len < MIN_RECORD || end > body.length || end <= space + 1)
      throw new PaxError(`pax record at byte ${at} has a length (${len}) beyond its header`);
    if (body[end - 1] !== NEWLINE) throw new PaxError(`pax record at byte ${at} does not end with a newline where its length says`);
    const equals = body.indexOf(EQUALS, space + 1);
    if (equals < 0 || equals >= end - 1 || equals === space + 1) throw new PaxError(`pax record at byte ${at} has no KEY=VALUE`);
    const keyBytes = body.subarray(space + 1, equals);
    if (keyBytes.includes(0)) throw new PaxError(`pax record at byte ${at} has a NUL byte in its key`);
    // A copy: the body's buffer is the parser's, and values outlive it.
    records.push({ key: keyBytes.toString('utf8'), value: Buffer.from(body.subarray(equals + 1, end - 1)) });
    at = end;
  }
  return records;
}

/** A malformed pax header; the message is the reason alone, without layer or entry. */
export class PaxError extends Error {}
