import test from 'ava';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ingestBlob } from '../../src/content/ingest.js';
import { tmpStore } from '../helpers/tmp-store.js';

/*
 * Found by the full-disk test: a blob write that failed (ENOSPC) was reported as
 * `EBADF: bad file descriptor, close`. The temp file was opened as a FileHandle and
 * its fd lent to a write stream; pipeline() destroyed the stream on error, which
 * closed the fd, and closing the handle again failed — replacing the real error (and
 * could have closed a file opened in between). The write stream now owns the file
 * (fsynced on close by `flush`), and an error without a path says which content it hit.
 */
test('a blob write that fails reports its own error, names the content and leaves no temp file', async (t) => {
  const { store } = await tmpStore(t);
  let sent = false;
  const input = new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(Buffer.alloc(200_000, 1));
        return;
      }
      this.destroy(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5, syscall: 'read' }));
    },
  });
  const err = await t.throwsAsync(ingestBlob(store, input, { source: 'app.tar: blobs/sha256/ab12' }));
  t.is((err as NodeJS.ErrnoException).code, 'EIO');
  t.is(err!.message, 'app.tar: blobs/sha256/ab12: EIO: i/o error, read');
  t.deepEqual(await fs.readdir(store.paths.ingestDir), []);
});

test('a blob written whole is committed with its digest after the stream closed the file', async (t) => {
  const { store } = await tmpStore(t);
  const result = await ingestBlob(store, Readable.from([Buffer.from('hello\n')]), { source: 'test' });
  t.is(result.digest, 'sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03');
  t.is(await fs.readFile(store.paths.blob(result.digest), 'utf8'), 'hello\n');
  t.deepEqual(await fs.readdir(store.paths.ingestDir), []);
});
