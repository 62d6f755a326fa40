import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import { StrataError, jsonErrorReason } from '../errors.js';

/** Records are small; anything bigger is damage or an attack, never a record. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/**
 * Reads a JSON record written by writeJsonAtomic. A missing file is `null` when
 * `optional`; unreadable JSON is an EBADRECORD naming the file, never a SyntaxError.
 */
export async function readJsonRecord(file: string, options: { optional?: boolean } = {}): Promise<unknown> {
  let text: string;
  try {
    const st = await fs.stat(file);
    if (st.size > MAX_RECORD_BYTES) {
      throw new StrataError('EBADRECORD', `${file}: record is ${st.size} bytes, more than any record can be`, { path: file });
    }
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if (options.optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return parseRecord(file, text);
}

/**
 * readJsonRecord without thread-pool round trips, for listings that read hundreds of
 * small records at once (df and ps over every container): same size cap, same errors.
 */
export function readJsonRecordSync(file: string, options: { optional?: boolean } = {}): unknown {
  let text: string;
  try {
    const st = fsSync.statSync(file);
    if (st.size > MAX_RECORD_BYTES) {
      throw new StrataError('EBADRECORD', `${file}: record is ${st.size} bytes, more than any record can be`, { path: file });
    }
    text = fsSync.readFileSync(file, 'utf8');
  } catch (err) {
    if (options.optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return parseRecord(file, text);
}

function parseRecord(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new StrataError('EBADRECORD', `${file}: invalid JSON (${jsonErrorReason(err)})`, { path: file, cause: err });
  }
}
