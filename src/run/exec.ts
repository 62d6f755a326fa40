import type { StdioOptions } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { StrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import { randomHex } from '../store/random.js';
import { writeJsonAtomic } from '../store/atomic.js';
import { findContainer } from '../container/lookup.js';
import { mergeEnv } from '../container/run-config.js';
import { bundlePaths, checkExecutable, resolveUser, rootView } from './bundle.js';
import { processEnv } from './runtime-spec.js';
import { hasLiveProcess } from './control.js';
import { containerRuntime, spawnExec, waitExit } from './runtime.js';

export interface ExecOptions {
  command: string[];
  /** `-e KEY=VALUE`, over the container's environment. */
  env?: string[];
  workingDir?: string;
  user?: string;
  terminal: boolean;
  stdio: StdioOptions;
}

/**
 * docker exec through `runc exec`: another process in the running container's
 * namespaces, with the container's environment, user and working directory unless
 * -e, -u, -w say otherwise, and the same capabilities. Its exit status is returned;
 * a command that cannot be started is Docker's 126 for exec.
 */
export async function execInContainer(store: Store, nameOrId: string, options: ExecOptions): Promise<number> {
  const record = await findContainer(store, nameOrId);
  if (!hasLiveProcess(record)) throw new StrataError('ECONFLICT', `container ${record.id} is not running`, { path: nameOrId });
  const view = await rootView(store, record);
  const user = await resolveUser(view, options.user ?? record.config?.user ?? '');
  const env = mergeEnv(options.env ?? [], processEnv(record, user, options.terminal));
  const cwd = options.workingDir || record.config?.workingDir || '/';
  await checkExecutable(view, options.command, env, cwd).catch((err: unknown) => {
    if (err instanceof StrataError && err.code === 'ECOMMAND')
      throw new StrataError('ECOMMAND', err.message, { path: err.path, found: 126 });
    throw err;
  });
  const paths = bundlePaths(store, record.id);
  const config = JSON.parse(await fs.readFile(paths.config, 'utf8')) as { process: Record<string, unknown> };
  const processFile = path.join(paths.dir, `exec-${randomHex(8)}.json`);
  await writeJsonAtomic(processFile, {
    ...config.process,
    terminal: options.terminal,
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    args: options.command,
    env,
    cwd,
  });
  try {
    const runtime = containerRuntime(store, record);
    return await waitExit(await spawnExec(runtime, record.id, processFile, options.stdio, options.terminal));
  } finally {
    await fs.rm(processFile, { force: true });
  }
}
