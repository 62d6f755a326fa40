import fs from 'node:fs';
import { Writable } from 'node:stream';
import type { CliIO } from './context.js';

/**
 * The stream a command's output goes to. On a pipe or a socket (`strata images | …`,
 * or any program that spawns strata and reads its output) Node makes process.stdout
 * a net.Socket, and loading node:net for it is a few percent of a small command's
 * start-up. There, writing straight to the descriptor does what that socket does on
 * Linux, where writes to a pipe complete before write() returns: output in order,
 * written by the time the command returns. A terminal (progress bars and prompts ask
 * for isTTY and columns), a file or anything else keeps process.stdout.
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
 * Writes each chunk with write(2) until all of it is out. A descriptor another
 * program left non-blocking may refuse a write with EAGAIN when the reader falls
 * behind; from then on everything goes through process.stdout, which waits for
 * the pipe to drain. Other errors (EPIPE: the reader is gone) are the stream's
 * 'error', as they are process.stdout's. fd 1 is never closed, as process.stdout's is not.
 */
class DescriptorOutput extends Writable {
  #handedOver = false;

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.#handedOver) {
      process.stdout.write(chunk, done);
      return;
    }
    let written = 0;
    try {
      while (written < chunk.length) written += fs.writeSync(STDOUT_FD, chunk, written);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
        done(err as Error);
        return;
      }
      this.#handedOver = true;
      // Its write callbacks pass its errors on to this stream; unheard, an 'error' would crash.
      process.stdout.on('error', () => {});
      process.stdout.write(chunk.subarray(written), done);
      return;
    }
    done();
  }
}
