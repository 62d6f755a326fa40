import type { CliContext } from './context.js';

/** What pull, push and login share on the command line. */

/** A repeatable option's values, in order. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Credentials for a registry from Docker's config.json, for pull and push. */
export function configCredentials(ctx: CliContext) {
  return async (registry: string) => {
    const { readCredentials } = await import('../registry/docker-config.js');
    return readCredentials(ctx.environment.dockerConfigDir, registry);
  };
}
