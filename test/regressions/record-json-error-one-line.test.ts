import test from 'ava';
import fs from 'node:fs/promises';
import path from 'node:path';
import { strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';

/*
 * A store record or image config that is not JSON made an error of several lines:
 * V8 quotes the bad input, newlines included, in its SyntaxError text, and the CLI
 * prints the message as its one line. The same escaping the archive readers had is
 * now shared (errors.ts jsonErrorReason).
 */
test('a corrupt image record with newlines in it is a one-line error naming the file', async (t) => {
  const { store } = await tmpStore(t);
  const record = path.join(store.paths.imagesDir, `${'a'.repeat(64)}.json`);
  await fs.writeFile(record, '{\n  "id": broken\n}\n');
  const result = await strata(store.paths.root, ['images']);
  t.is(result.code, 1);
  t.is(result.stderr, `strata: ${record}: invalid JSON (Unexpected token 'b', "{\\n  "id": broken\\n}\\n" is not valid JSON)\n`);
});
