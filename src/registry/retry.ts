import { StrataError } from '../errors.js';

/**
 * When a registry request is tried again: on 408, 429 and the 5xx a proxy or an
 * overloaded registry answers, and on connections reset, refused or silent. The wait
 * doubles from `baseDelayMs` with 10 % jitter, unless the registry says how long
 * (`Retry-After`, in seconds or as an HTTP date), which is honoured up to `maxDelayMs`.
 */
export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 1000, maxDelayMs: 60_000 };

const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'ENETUNREACH']);

export function retryableStatus(status: number): boolean {
  return RETRY_STATUSES.has(status);
}

/** A failure of the connection, not an answer: worth another try. */
export function isTransient(err: unknown): boolean {
  const cause = err instanceof StrataError ? (err.cause as NodeJS.ErrnoException | undefined) : (err as NodeJS.ErrnoException);
  return typeof cause?.code === 'string' && TRANSIENT_CODES.has(cause.code);
}

/** How long to wait before try `attempt + 1`. */
export function retryDelay(attempt: number, policy: RetryPolicy, retryAfter?: string | string[]): number {
  const stated = retryAfterMs(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  if (stated !== undefined) return Math.min(stated, policy.maxDelayMs);
  const base = policy.baseDelayMs * 2 ** (attempt - 1);
  return Math.min(policy.maxDelayMs, base * (0.9 + Math.random() * 0.2));
}

function retryAfterMs(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Waits `ms`; an abort ends the wait at once with EINTERRUPTED. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new StrataError('EINTERRUPTED', 'interrupted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new StrataError('EINTERRUPTED', 'interrupted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
