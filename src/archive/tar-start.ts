import type { Readable } from 'node:stream';
import { StrataError } from '../errors.js';
import { peek, type Compression } from './compression.js';
import { parseHeader, shortInputReason } from './tar-index.js';

const BLOCK = 512;

/**
 * What a (decompressed) stream starts with, checked before a tar parser sees it:
 * tar parsers answer a few bytes of text or a short file with their own internals
 * ("Unexpected end of data", or nothing at all), and the user should instead read
 * that the input is not a tar archive, and why. `stream` yields every byte (see peek).
 *
 * - 'entries': the first block is a valid tar header;
 * - 'end': the first block is all zeros, tar's end-of-archive marker (an empty archive).
 */
export async function checkTarStart(
  input: Readable,
  compression: Compression,
  displayName: string,
): Promise<{ start: 'entries' | 'end'; stream: Readable }> {
  const { head, stream } = await peek(input, BLOCK);
  const fail = (why: string) => new StrataError('EINVALIDARCHIVE', `${displayName}: ${why}`, { path: displayName });
  const what = compression === 'none' ? '' : ` after ${compression} decompression`;
  if (head.length === 0) throw fail(`not a tar archive (${compression === 'none' ? 'empty input' : `empty ${compression} data`})`);
  if (head.length < BLOCK) throw fail(shortInputReason(head.length, what));
  try {
    return { start: parseHeader(head.subarray(0, BLOCK)) === null ? 'end' : 'entries', stream };
  } catch {
    throw fail('not a tar archive');
  }
}
