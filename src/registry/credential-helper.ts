import { spawn } from 'node:child_process';
import { StrataError } from '../errors.js';
import type { Credentials } from './auth.js';

/**
 * Docker's credential helpers (`docker-credential-<name> get|store|erase`), the
 * programs `credsStore` and `credHelpers` in config.json name: the server URL or a
 * JSON record on stdin, JSON on stdout. A user's existing helper just works.
 */
export async function helperGet(helper: string, server: string): Promise<Credentials | undefined> {
  const { code, stdout } = await runHelper(helper, 'get', server);
  // Helpers say "credentials not found in native keychain" with exit 1 when there are none.
  if (code !== 0) return undefined;
  const parsed = JSON.parse(stdout) as { Username?: unknown; Secret?: unknown };
  if (typeof parsed.Username !== 'string' || typeof parsed.Secret !== 'string' || parsed.Secret === '') return undefined;
  return { username: parsed.Username, password: parsed.Secret };
}

export async function helperStore(helper: string, server: string, credentials: Credentials): Promise<void> {
  const input = JSON.stringify({ ServerURL: server, Username: credentials.username, Secret: credentials.password });
  const { code, stderr } = await runHelper(helper, 'store', input);
  if (code !== 0) throw new StrataError('EUSAGE', `docker-credential-${helper} store: ${stderr.trim() || `exit ${code}`}`);
}

export async function helperErase(helper: string, server: string): Promise<void> {
  await runHelper(helper, 'erase', server);
}

function runHelper(helper: string, action: string, input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${helper}`, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new StrataError('ENOTFOUND', `docker-credential-${helper}: the credential helper config.json names is not installed`)
          : e,
      ),
    );
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.end(input);
  });
}
