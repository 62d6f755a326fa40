import { spawn } from 'node:child_process';

export interface ToolResult {
  code: number;
  stderr: string;
}

/**
 * Runs a mount tool and waits for it. `fds` become the child's fds 3, 4, … (libuv
 * dup2s them in the child before exec, and `cwd` is entered there too, so a child
 * started in /proc/self/fd finds its own copies). Waits for exit, not for stdio to
 * close: fuse-overlayfs leaves a daemon behind that may keep the pipe.
 */
export function runTool(command: string, args: string[], options: { cwd?: string; fds?: number[] } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['ignore', 'ignore', 'pipe', ...(options.fds ?? [])],
    });
    const errors = child.stderr as NonNullable<typeof child.stderr>;
    let stderr = '';
    errors.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      errors.destroy();
      resolve({ code: code ?? (signal === null ? -1 : 128), stderr: stderr.trim() });
    });
  });
}
