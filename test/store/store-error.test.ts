import test from 'ava';
import { fsError } from '../../src/errors.js';
import { isStoreInternalError, storeActionOf, storeError } from '../../src/store/store-error.js';

const ROOT = '/srv/strata';

/** Which fs errors are said about the store, and which keep the path they name. */
const cases: Array<[string, string, string, string | null]> = [
  // [syscall, path below ROOT, code, message the CLI prints (null: the path is kept)]
  ['open', 'locks/.tmp-1a2b3c-lock', 'EACCES', `cannot write to store ${ROOT}: permission denied`],
  ['open', 'ingest/.tmp-4d5e6f-spool', 'EACCES', `cannot write to store ${ROOT}: permission denied`],
  ['open', 'ingest/.tmp-4d5e6f-spool/entry-3', 'EACCES', `cannot write to store ${ROOT}: permission denied`],
  ['rmdir', 'layers/.rm-0a1b2c', 'EBUSY', `cannot write to store ${ROOT}: device or resource busy`],
  ['open', 'images/.tmp-0a0b0c-1234.json', 'ENOSPC', `cannot write to store ${ROOT}: no space left on device`],
  ['rename', 'layers/.tmp-777777', 'EROFS', `cannot write to store ${ROOT}: read-only file system`],
  ['mkdir', 'locks', 'EACCES', `cannot write to store ${ROOT}: permission denied`],
  ['scandir', 'images', 'EIO', `cannot read store ${ROOT}: input/output error`],
  ['open', '', 'EACCES', `cannot read store ${ROOT}: permission denied`],
  // Records a user can look at, and content inside layers and containers, keep their names.
  ['open', 'images/0123.json', 'EACCES', null],
  ['open', 'leases/42-abc.json', 'EACCES', null],
  ['open', 'layers/0123/diff/etc/shadow', 'EACCES', null],
  ['open', 'containers/0123/upper/x', 'EACCES', null],
];

for (const [syscall, rel, code, expected] of cases) {
  test(`${code} on ${syscall} of ${rel || 'the root'}: ${expected ?? 'keeps its path'}`, (t) => {
    const err = fsError(code, syscall, rel ? `${ROOT}/${rel}` : ROOT);
    t.is(isStoreInternalError(ROOT, err), expected !== null);
    if (expected !== null) t.is(storeError(ROOT, storeActionOf(err), err)!.message, expected);
  });
}

test('a path outside the store is never said about the store', (t) => {
  t.false(isStoreInternalError(ROOT, fsError('EACCES', 'open', '/srv/strata-other/locks/.tmp-1-lock')));
  t.false(isStoreInternalError(ROOT, fsError('EACCES', 'open', '/home/me/app.tar')));
});
