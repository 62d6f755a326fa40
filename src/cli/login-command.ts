import type { Command } from 'commander';
import { text } from 'node:stream/consumers';
import { StrataError } from '../errors.js';
import type { CliContext } from './context.js';
import { isTerminal, promptLine } from './prompt.js';
import { collect } from './registry-options.js';

/** `login` and `logout`: credentials in Docker's own config.json, so docker and strata share them. */
export function registerLoginCommands(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .description('Log in to a registry (credentials kept in Docker’s config.json)')
    .argument('[server]', 'registry host[:port]; default: Docker Hub')
    .option('-u, --username <user>', 'username')
    .option('-p, --password <password>', 'password or token (insecure: prefer --password-stdin)')
    .option('--password-stdin', 'take the password from stdin')
    .option(
      '--insecure-registry <host>',
      'reach this registry over HTTPS unchecked or plain HTTP (repeatable; also $STRATA_INSECURE_REGISTRIES)',
      collect,
      [],
    )
    .action(
      async (
        server: string | undefined,
        opts: { username?: string; password?: string; passwordStdin?: boolean; insecureRegistry: string[] },
      ) => {
        const [{ openRegistry }, { parseInsecureRegistries }, { storeCredentials }] = await Promise.all([
          import('../registry/client.js'),
          import('../registry/endpoint.js'),
          import('../registry/docker-config.js'),
        ]);
        if (opts.password !== undefined && opts.passwordStdin)
          throw new StrataError('EUSAGE', '--password and --password-stdin are mutually exclusive');
        if (opts.passwordStdin && opts.username === undefined)
          throw new StrataError('EUSAGE', 'Must provide --username with --password-stdin');
        if (opts.password !== undefined) ctx.io.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
        const interactive = opts.username === undefined || (opts.password === undefined && !opts.passwordStdin);
        if (interactive && !isTerminal(ctx.io.stdin)) {
          throw new StrataError('EUSAGE', 'Cannot perform an interactive login from a non TTY device');
        }
        // As docker login: what the flags leave out is asked for, the password without echo.
        const username = opts.username ?? (await promptLine(ctx.io.stdin, ctx.io.stdout, 'Username: ', true)).trim();
        if (username === '') throw new StrataError('EUSAGE', 'Non-null Username Required');
        const password = opts.passwordStdin
          ? (await text(ctx.io.stdin)).replace(/\r?\n$/, '')
          : (opts.password ?? (await promptLine(ctx.io.stdin, ctx.io.stdout, 'Password: ', false)));
        if (password === '') throw new StrataError('EUSAGE', 'Password Required');
        const registry = registryName(server);
        const credentials = { username, password };
        const client = await openRegistry(registry, {
          insecureRegistries: parseInsecureRegistries([...ctx.environment.insecureRegistries, ...opts.insecureRegistry]),
          trust: ctx.environment.registryTrust,
          credentials,
        });
        await client.checkLogin();
        const file = await storeCredentials(ctx.environment.dockerConfigDir, registry, credentials);
        if (file !== null) ctx.io.stderr.write(`WARNING! Your password will be stored unencrypted in ${file}.\n`);
        ctx.print('Login Succeeded');
      },
    );
  program
    .command('logout')
    .description('Log out from a registry (removes its credentials from Docker’s config.json)')
    .argument('[server]', 'registry host[:port]; default: Docker Hub')
    .action(async (server: string | undefined) => {
      const { removeCredentials, serverKey } = await import('../registry/docker-config.js');
      const registry = registryName(server);
      const key = serverKey(registry);
      if (await removeCredentials(ctx.environment.dockerConfigDir, registry)) ctx.print(`Removing login credentials for ${key}`);
      else ctx.print(`Not logged in to ${key}`);
    });
}

/** `https://host:5000/v2/` and `host:5000` name one registry; none is Docker Hub. */
function registryName(server: string | undefined): string {
  if (server === undefined || server === '') return 'docker.io';
  const bare = server.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (bare === 'index.docker.io' || bare === 'registry-1.docker.io') return 'docker.io';
  return bare;
}
