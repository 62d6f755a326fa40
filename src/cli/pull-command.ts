import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { collect, configCredentials } from './registry-options.js';
import { pullOutput } from './pull-progress.js';
import { toPositiveInt } from './image-commands.js';

/** `pull` and `image pull`: an image from a registry, as `docker pull` prints it. */
export function registerPullCommand(program: Command, ctx: CliContext): void {
  const image = program.commands.find((c) => c.name() === 'image');
  for (const parent of image === undefined ? [program] : [program, image]) {
    parent
      .command('pull')
      .description('Download an image from a registry')
      .argument('<name>', 'NAME[:TAG|@DIGEST]')
      .option('-q, --quiet', 'suppress verbose output')
      .option('--platform <os/arch[/variant]>', 'pull this platform of a multi-platform image (default: this host)')
      .option('--max-concurrent-downloads <n>', 'download at most this many layers at once', toPositiveInt, 3)
      .option(
        '--insecure-registry <host>',
        'reach this registry over HTTPS unchecked or plain HTTP (repeatable; also $STRATA_INSECURE_REGISTRIES)',
        collect,
        [],
      )
      .action(
        async (name: string, opts: { quiet?: boolean; platform?: string; maxConcurrentDownloads: number; insecureRegistry: string[] }) => {
          const [{ pullImage }, { parseReference }, { parseInsecureRegistries }] = await Promise.all([
            import('../transfer/pull.js'),
            import('../archive/reference.js'),
            import('../registry/endpoint.js'),
          ]);
          const ref = parseReference(name);
          if (opts.platform !== undefined) (await import('../archive/platform.js')).parsePlatform(opts.platform);
          const store = await ctx.store();
          if (!opts.quiet && ref.tag === undefined && ref.digest === undefined) ctx.print('Using default tag: latest');
          const output = pullOutput(ctx, `${ref.digest ?? ref.tag ?? 'latest'}: Pulling from ${ref.path}`, opts.quiet);
          let pulled;
          try {
            pulled = await pullImage(store, name, {
              platform: opts.platform,
              insecureRegistries: parseInsecureRegistries([...ctx.environment.insecureRegistries, ...opts.insecureRegistry]),
              trust: ctx.environment.registryTrust,
              credentials: configCredentials(ctx),
              maxConcurrentDownloads: opts.maxConcurrentDownloads,
              importWorkers: ctx.environment.importWorkers,
              httpLimits: { lowSpeed: ctx.environment.lowSpeed },
              onEvent: output?.onEvent,
              signal: ctx.io.signal,
            });
          } finally {
            output?.stop();
          }
          const full = `${ref.domain}/${ref.path}${ref.digest ? `@${ref.digest}` : `:${ref.tag ?? 'latest'}`}`;
          if (!opts.quiet) {
            ctx.print(`Digest: ${pulled.digest}`);
            ctx.print(`Status: ${pulled.updated ? 'Downloaded newer image' : 'Image is up to date'} for ${pulled.reference}`);
          }
          ctx.print(full);
        },
      );
  }
}
