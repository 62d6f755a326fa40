import { StrataError, type StrataErrorCode } from '../errors.js';
import type { LayerSource } from './layer-source.js';
import type { LayerFacts, StagedLayer } from './stage.js';

/** What the import pool (import-pool.ts) and its workers (import-worker.ts) say to each other. */

/** Given to every worker when it starts. */
export interface WorkerSetup {
  /** The store's fields, without StorePaths (which the worker makes again from `root`). */
  store: { root: string; whiteoutFormat: 'overlay' | 'oci'; info: unknown; privileged: boolean; lockTimeoutMs: number };
  /** Fault-point counters shared with the parent thread (store/fault-points.ts); undefined when off. */
  faultPoints: SharedArrayBuffer | undefined;
}

export type ToWorker =
  | {
      type: 'stage';
      id: number;
      source: LayerSource;
      facts: LayerFacts;
      temp: { blob: string; layerDir: string };
      /** The file the blob's bytes are written to beside the stream (stage.ts `spool`). */
      spool?: string | undefined;
      progress: boolean;
    }
  | { type: 'cancel'; id: number };

export type FromWorker =
  | { type: 'progress'; id: number; bytes: number }
  /** The blob is written and matched its digest (the unpack may still be running). */
  | { type: 'verified'; id: number }
  | { type: 'staged'; id: number; staged: StagedLayer }
  | { type: 'failed'; id: number; error: SentError };

/**
 * An error as plain data: a StrataError keeps its code, message and details, a
 * file-system error its errno code, syscall and path, so the CLI prints the same one
 * line whichever thread failed. The stack comes along for --debug.
 */
export interface SentError {
  strata: boolean;
  name: string;
  message: string;
  stack?: string | undefined;
  code?: string | undefined;
  path?: string | undefined;
  expected?: string | number | undefined;
  found?: string | number | undefined;
  errno?: number | undefined;
  syscall?: string | undefined;
}

export function sendError(err: unknown): SentError {
  if (!(err instanceof Error)) return { strata: false, name: 'Error', message: String(err) };
  const e = err as Error & Partial<Omit<SentError, 'strata'>>;
  return {
    strata: err instanceof StrataError,
    name: e.name,
    message: e.message,
    stack: e.stack,
    code: typeof e.code === 'string' ? e.code : undefined,
    path: e.path,
    expected: e.expected,
    found: e.found,
    errno: e.errno,
    syscall: e.syscall,
  };
}

export function receiveError(sent: SentError): Error {
  let err: Error;
  if (sent.strata) {
    err = new StrataError(sent.code as StrataErrorCode, sent.message, {
      ...(sent.path !== undefined ? { path: sent.path } : {}),
      ...(sent.expected !== undefined ? { expected: sent.expected } : {}),
      ...(sent.found !== undefined ? { found: sent.found } : {}),
    });
  } else {
    err = new Error(sent.message);
    err.name = sent.name;
    const e = err as NodeJS.ErrnoException;
    if (sent.code !== undefined) e.code = sent.code;
    if (sent.errno !== undefined) e.errno = sent.errno;
    if (sent.syscall !== undefined) e.syscall = sent.syscall;
    if (sent.path !== undefined) e.path = sent.path;
  }
  if (sent.stack !== undefined) err.stack = sent.stack;
  return err;
}
