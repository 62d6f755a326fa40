import { setTimeout as delay } from 'node:timers/promises';

/** Bytes a batch gathers before it is passed on: the chunk size load reads layers in (layer/layer-source.ts). */
export const BATCH_BYTES = 256 * 1024;
/** How long a batch waits for more after its first byte: a slow link still shows progress and feeds the unpack. */
export const BATCH_WAIT_MS = 20;

const WAITED = Symbol('waited');

/**
 * A response body in batches of at least BATCH_BYTES, or what arrived within
 * BATCH_WAIT_MS of a batch's first byte. A socket hands over a read at a time (tens
 * of KiB on loopback), and every chunk a pull passes on costs one spool write, one
 * message to an import worker, its acknowledgement and a step of every stream of the
 * import stage; batches make those as few as a load's. When the body fails, what had
 * arrived is passed on first, so a resume asks only for what is missing.
 */
export async function* batchedBody(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const source = body[Symbol.asyncIterator]();
  let parts: Buffer[] = [];
  let bytes = 0;
  let waited: AbortController | undefined;
  let deadline: Promise<typeof WAITED> | undefined;
  const take = (): Buffer => {
    const batch = parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
    parts = [];
    bytes = 0;
    waited?.abort();
    waited = deadline = undefined;
    return batch;
  };
  try {
    for (;;) {
      let next: IteratorResult<Buffer> | typeof WAITED;
      try {
        const reading = source.next();
        next = deadline === undefined ? await reading : await Promise.race([reading, deadline]);
        if (next === WAITED) {
          yield take();
          next = await reading;
        }
      } catch (err) {
        if (bytes > 0) yield take();
        throw err;
      }
      if (next.done) break;
      parts.push(next.value);
      bytes += next.value.length;
      if (bytes >= BATCH_BYTES) yield take();
      else if (deadline === undefined) {
        waited = new AbortController();
        deadline = delay(BATCH_WAIT_MS, WAITED, { signal: waited.signal }).catch(() => WAITED);
      }
    }
    if (bytes > 0) yield take();
  } finally {
    waited?.abort();
    await source.return?.();
  }
}
