import type { CliContext } from './context.js';

/**
 * Docker's prompt after its warning; anything but y/yes (or no terminal answer)
 * declines. As docker, nothing follows the question: a terminal echoes the answer.
 */
export async function confirm(ctx: CliContext, warning: string): Promise<boolean> {
  ctx.io.stdout.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: ctx.io.stdin as NodeJS.ReadableStream });
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}
