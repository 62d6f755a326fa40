import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { Readable } from 'node:stream';
import { StrataError, isStrataError } from '../errors.js';
import type { RegistryClient } from './client.js';
import { isTransient, retryDelay, sleep } from './retry.js';
import { batchedBody } from './batched-body.js';

export interface BlobStreamOptions {
  /**
   * A file in the store's ingest/ that keeps what has arrived, so a pull after a crash
   * or Ctrl-C starts from there: its bytes are read back first, then the rest is asked
   * for with Range. Every byte is still verified, by the reader of the stream.
   */
  spool?: string;
  /** Called with the bytes taken from the spool instead of the network. */
  onResumed?: (bytes: number) => void;
}

/**
 * A blob of known size as one stream, whatever happens to the connection: a reset, a
 * silent server or a body that ends early is asked again from the byte it stopped at
 * (`Range: bytes=N-`), and a registry that ignores Range has its first N bytes skipped.
 * Retries back off as the client's policy says, and the count starts again whenever
 * bytes arrive, so only a connection that keeps failing without progress gives up.
 * More bytes than `size` pass through: the reader's size check refuses them.
 */
export function resumableBlob(
  client: RegistryClient,
  repository: string,
  digest: string,
  size: number,
  options: BlobStreamOptions = {},
): Readable {
  return Readable.from(chunks(client, repository, digest, size, options), { objectMode: false });
}

async function* chunks(client: RegistryClient, repository: string, digest: string, size: number, options: BlobStreamOptions) {
  let offset = 0;
  let spool: fsp.FileHandle | undefined;
  try {
    if (options.spool !== undefined) {
      for await (const chunk of spooled(options.spool, size)) {
        offset += chunk.length;
        yield chunk;
      }
      if (offset > 0) options.onResumed?.(offset);
    }
    let failures = 0;
    while (offset < size) {
      try {
        const response = await client.blob(repository, digest, offset);
        let skip = offset - response.start;
        for await (const received of batchedBody(response.body as AsyncIterable<Buffer>)) {
          let chunk = received;
          if (skip > 0) {
            const dropped = Math.min(skip, chunk.length);
            skip -= dropped;
            chunk = chunk.subarray(dropped);
            if (chunk.length === 0) continue;
          }
          // Opened at the first byte: a blob that never arrives leaves no file behind.
          if (options.spool !== undefined) {
            spool ??= await fsp.open(options.spool, 'a');
            await spool.write(chunk);
          }
          offset += chunk.length;
          failures = 0;
          yield chunk;
        }
        if (offset < size) throw shortBody(client, repository, digest, size, offset);
      } catch (err) {
        // Nothing from `offset` on (416): the blob ends there, short of what the descriptor says.
        if (offset > 0 && isStrataError(err, 'EREGISTRY') && Number(err.found) === 416)
          throw shortBody(client, repository, digest, size, offset);
        failures++;
        if (!(isTransient(err) || isShortBody(err)) || failures >= client.retry.attempts) throw oneLine(client, repository, digest, err);
        await sleep(retryDelay(failures, client.retry), client.signal);
      }
    }
  } finally {
    await spool?.close();
  }
}

/** The spool's bytes, unless it is longer than the blob (then it is not this blob's prefix and starts over). */
async function* spooled(file: string, size: number): AsyncGenerator<Buffer> {
  const st = await fsp.stat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (st === null || st.size === 0) return;
  if (st.size > size) {
    await fsp.truncate(file, 0);
    return;
  }
  yield* fs.createReadStream(file, { end: st.size - 1 }) as AsyncIterable<Buffer>;
}

const SHORT_BODY = Symbol('short body');

function shortBody(client: RegistryClient, repository: string, digest: string, size: number, got: number): StrataError {
  const err = new StrataError(
    'EINTEGRITY',
    `${client.endpoint.name}/${repository}@${digest}: the registry sent ${got} bytes, but the descriptor says ${size}`,
    { expected: size, found: got },
  );
  return Object.assign(err, { [SHORT_BODY]: true });
}

function isShortBody(err: unknown): boolean {
  return typeof err === 'object' && err !== null && SHORT_BODY in err;
}

/** A connection error mid-body (`aborted`, ECONNRESET) as one line naming the blob. */
function oneLine(client: RegistryClient, repository: string, digest: string, err: unknown): unknown {
  if (err instanceof StrataError || !(err instanceof Error)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  return new StrataError(
    'EREGISTRY',
    `${client.endpoint.name}/${repository}@${digest}: ${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`,
    {
      cause: err,
    },
  );
}
