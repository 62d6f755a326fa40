import type { Writable } from 'node:stream';
import type { Store } from '../store/root.js';

/** What a command needs from the outside world; tests pass their own streams. */
export interface CliIO {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  /** Aborted on SIGINT/SIGTERM; long operations stop and clean up. */
  signal?: AbortSignal;
}

export interface GlobalOptions {
  root?: string;
  debug?: boolean;
}

export class CliContext {
  private storePromise: Promise<Store> | undefined;
  constructor(readonly io: CliIO, private readonly globals: () => GlobalOptions) {}

  /** Opened on first use, so `--help` never creates a store. */
  store(): Promise<Store> {
    this.storePromise ??= import('../store/root.js').then(({ openStore }) => openStore({ root: this.globals().root }));
    return this.storePromise;
  }

  print(text: string): void {
    this.io.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
  }

  /** Progress and other decoration only on a terminal, never when piped or quiet. */
  interactive(quiet?: boolean): boolean {
    return !quiet && this.io.stdout.isTTY === true;
  }
}
