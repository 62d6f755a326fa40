import { Transform, type TransformCallback } from 'node:stream';

/**
 * Gathers small writes into chunks of at least `size` bytes. A tar writer emits a
 * 512-byte header, a body and its padding per entry; each chunk that reaches zlib is
 * one thread-pool job, and each that reaches a hash or a file one more call, so tens
 * of thousands of small files would cost more in round trips than in work.
 */
export class Coalesce extends Transform {
  #parts: Buffer[] = [];
  #bytes = 0;

  constructor(private readonly size = 256 * 1024) {
    super({ highWaterMark: size });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#parts.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes >= this.size) this.#release();
    done();
  }

  override _flush(done: TransformCallback): void {
    this.#release();
    done();
  }

  #release(): void {
    if (this.#bytes === 0) return;
    this.push(this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#bytes));
    this.#parts = [];
    this.#bytes = 0;
  }
}
