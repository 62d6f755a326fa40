import fs from 'node:fs';
import { Writable } from 'node:stream';
import type { CliIO } from './context.js';

/**
 * The stream a command's output goes to. On a pipe or a socket (`strata images | …`,
 * or any program that spawns strata and reads its output) Node makes process.stdout
 * a net.Socket, and loading node:net for it is a few percent of a small command's
 * start-up. There, a command's first output (all of a listing's) is written straight
 * to the descriptor, as that socket does on Linux, where writes to a pipe complete
 * before write() returns: output in order, written by the time the command returns.
 * A terminal (progress bars and prompts ask for isTTY and columns), a file or
 * anything else keeps process.stdout.
 */
export function standardOutput(): CliIO['stdout'] {
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(STDOUT_FD);
  } catch {
    // Closed (`strata images >&-`): process.stdout knows what to make of that.
    return process.stdout;
  }
  return stat.isFIFO() || stat.isSocket() ? new DescriptorOutput() : process.stdout;
}

const STDOUT_FD = 1;

/**
 * How much output is written straight to the descriptor: what a pipe holds before
 * a writer blocks (64 KiB on Linux), enough for any listing. A write(2) that blocks
 * holds the whole process, signal handlers included, until the reader reads; so a
 * command that streams more (save, export, logs) goes on through process.stdout,
 * which waits for a slow reader without holding the process.
 */
const DIRECT_BYTES = 64 * 1024;

/**
 * Writes each chunk with write(2) until all of it is out, for the first DIRECT_BYTES
 * of output; everything after goes through process.stdout. So does everything once
 * a descriptor another program left non-blocking refuses a write (EAGAIN) because
 * the reader fell behind. Other errors (EPIPE: the reader is gone) are the stream's
 * 'error', as they are process.stdout's. fd 1 is never closed, as process.stdout's is not.
 */
class DescriptorOutput extends Writable {
  #directLeft = DIRECT_BYTES;
  #handedOver = false;

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.#handedOver || chunk.length > this.#directLeft) {
      this.#handOver(chunk, done);
      return;
    }
    this.#directLeft -= chunk.length;
    let written = 0;
    try {
      while (written < chunk.length) written += fs.writeSync(STDOUT_FD, chunk, written);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') this.#handOver(chunk.subarray(written), done);
      else done(err as Error);
      return;
    }
    done();
  }

  /** Writes `chunk`, and all later output, through process.stdout. */
  #handOver(chunk: Buffer, done: (err?: Error | null) => void): void {
    if (!this.#handedOver) {
      this.#handedOver = true;
      // Its write callbacks pass its errors on to this stream; unheard, an 'error' would crash.
      process.stdout.on('error', () => {});
    }
    process.stdout.write(chunk, done);
  }
}
