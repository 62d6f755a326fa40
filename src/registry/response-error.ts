import http from 'node:http';
import { StrataError } from '../errors.js';
import { readSmallBody, type HttpResponse } from './http.js';

const MAX_ERROR_BODY = 64 * 1024;

/**
 * A refused request as Docker words it: `manifest for X not found: manifest unknown:
 * manifest unknown`, from the registry's own error JSON where it sent one.
 */
export async function responseError(response: HttpResponse, what: string): Promise<StrataError> {
  const body = await readSmallBody(response, MAX_ERROR_BODY, 'error response').catch(() => Buffer.alloc(0));
  const detail = registryErrorText(body) ?? `${response.status} ${httpStatusText(response.status)}`;
  if (response.status === 401 || response.status === 403) {
    return new StrataError('EUNAUTHORIZED', `${what}: access denied, the repository does not exist or needs 'strata login': ${detail}`);
  }
  if (response.status === 404) return new StrataError('ENOTFOUND', `${what} not found: ${detail}`);
  return new StrataError('EREGISTRY', `${what}: ${detail}`, { found: response.status });
}

/** distribution's `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}` → `manifest unknown: manifest unknown`. */
function registryErrorText(body: Buffer): string | null {
  try {
    const errors = (JSON.parse(body.toString()) as { errors?: { code?: unknown; message?: unknown }[] }).errors;
    const first = errors?.[0];
    if (!first || typeof first.code !== 'string') return null;
    const code = first.code.toLowerCase().replace(/_/g, ' ');
    return typeof first.message === 'string' && first.message !== '' ? `${code}: ${first.message.split('\n')[0]}` : code;
  } catch {
    return null;
  }
}

function httpStatusText(status: number): string {
  return http.STATUS_CODES[status] ?? '';
}
