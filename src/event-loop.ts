import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Lets the event loop in during long synchronous work. A signal handler, a timer and
 * any I/O callback run only between turns of the loop: a walk of a million files done
 * with sync calls (which df and unpack use because they are several times faster than
 * thread-pool round trips) would otherwise hold off Ctrl-C until it ends. Calling
 * `maybe()` often is cheap; it yields only when `everyMs` have passed since the last time.
 */
export class Yielder {
  #since = Date.now();
  #calls = 0;

  constructor(private readonly everyMs = 50) {}

  async maybe(): Promise<void> {
    // Date.now() every 64 calls keeps the check out of the per-entry cost.
    if ((++this.#calls & 63) !== 0 || Date.now() - this.#since < this.everyMs) return;
    await nextTurn();
    this.#since = Date.now();
  }
}
