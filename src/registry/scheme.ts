import { isStrataError } from '../errors.js';
import type { RegistryEndpoint } from './endpoint.js';
import { sendRequest, type HttpLimits } from './http.js';
import type { RegistryTls } from './tls-trust.js';

/** A TLS server answers a handshake at once; this only bounds one that accepts and says nothing. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * Docker reaches an insecure registry — a loopback one, or one listed with
 * `--insecure-registry` — over HTTPS first, without checking its certificate, and over
 * plain HTTP only when that fails: so `localhost:5443` served with TLS works as well as
 * `localhost:5000` served without. One `GET /v2/` over HTTPS decides: any HTTP answer
 * (200 or 401 alike) means HTTPS; an error (a plain-HTTP server answers a TLS hello
 * with a 400 that is no TLS record) means HTTP. A secure registry is left as it is.
 */
export async function chooseScheme(
  endpoint: RegistryEndpoint,
  tls: RegistryTls,
  limits: HttpLimits,
  signal?: AbortSignal,
): Promise<RegistryEndpoint> {
  if (!endpoint.insecure) return endpoint;
  const host = new URL(endpoint.origin).host;
  try {
    const response = await sendRequest(
      { method: 'GET', url: new URL(`https://${host}/v2/`), tls },
      { ...limits, idleTimeoutMs: Math.min(limits.idleTimeoutMs, PROBE_TIMEOUT_MS), maxRedirects: 0 },
    );
    response.body.resume();
    return { ...endpoint, origin: `https://${host}` };
  } catch (err) {
    // A certs.d that cannot be read is the user's to fix, not a reason to go plain; nor is a
    // TLS server's alert (it wants a client certificate, say): plain HTTP would only hide why.
    if (isStrataError(err) && (err.code !== 'EREGISTRY' || tlsAlert(err.cause))) throw err;
    signal?.throwIfAborted();
    return { ...endpoint, origin: `http://${host}` };
  }
}

/** OpenSSL's code for an alert the peer sent, e.g. ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: a TLS server is there. */
function tlsAlert(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('ERR_SSL_') && code.includes('_ALERT_');
}
