import type { Writable } from 'node:stream';
import type { Store } from '../store/root.js';
import { readEnvironment, type CliEnvironment } from './environment.js';

/** What a command needs from the outside world; tests pass their own streams. */
export interface CliIO {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  /** Aborted on SIGINT/SIGTERM; long operations stop and clean up. */
  signal?: AbortSignal;
  /** The process's environment and privilege; read from the process when left out. */
  environment?: CliEnvironment;
}

export interface GlobalOptions {
  root?: string;
  debug?: boolean;
}

export class CliContext {
  private storePromise: Promise<Store> | undefined;
  #environment: CliEnvironment | undefined;
  constructor(
    readonly io: CliIO,
    private readonly globals: () => GlobalOptions,
  ) {}

  /** Read once, on first use: a bad variable is then one command's error, not `--help`'s. */
  get environment(): CliEnvironment {
    this.#environment ??= this.io.environment ?? readEnvironment();
    return this.#environment;
  }

  /** `--root`, else the environment's default. */
  root(): string {
    return this.globals().root ?? this.environment.defaultRoot;
  }

  /** Opened on first use, so `--help` never creates a store. */
  store(): Promise<Store> {
    this.storePromise ??= import('../store/root.js').then(({ openStore }) => {
      const { privileged, whiteoutFormat, lockTimeoutMs, runBase } = this.environment;
      return openStore({ root: this.root(), privileged, whiteoutFormat, lockTimeoutMs, runBase });
    });
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
