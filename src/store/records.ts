import fs from 'node:fs/promises';
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
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new StrataError('EBADRECORD', `${file}: invalid JSON (${jsonErrorReason(err)})`, { path: file, cause: err });
  }
}
