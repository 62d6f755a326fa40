import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { toPositiveInt } from './image-commands.js';
import { pushOutput } from './push-progress.js';
import { collect, configCredentials } from './registry-options.js';

/** `push` and `image push`: an image to a registry, as `docker push` prints it. */
export function registerPushCommand(program: Command, ctx: CliContext): void {
  const image = program.commands.find((c) => c.name() === 'image');
  for (const parent of image === undefined ? [program] : [program, image]) {
    parent
      .command('push')
      .description('Upload an image to a registry')
      .argument('<name>', 'NAME[:TAG]')
      .option('-q, --quiet', 'suppress verbose output')
      .option('--max-concurrent-uploads <n>', 'upload at most this many blobs at once', toPositiveInt, 5)
      .option(
        '--insecure-registry <host>',
        'reach this registry over HTTPS unchecked or plain HTTP (repeatable; also $STRATA_INSECURE_REGISTRIES)',
        collect,
        [],
      )
      .action(async (name: string, opts: { quiet?: boolean; maxConcurrentUploads: number; insecureRegistry: string[] }) => {
        const [{ pushImage }, { parseReference }, { parseInsecureRegistries }] = await Promise.all([
          import('../transfer/push.js'),
          import('../archive/reference.js'),
          import('../registry/endpoint.js'),
        ]);
        const ref = parseReference(name);
        const store = await ctx.store();
        const output = pushOutput(ctx, `The push refers to repository [${ref.domain}/${ref.path}]`, opts.quiet);
        let pushed;
        try {
          pushed = await pushImage(store, name, {
            insecureRegistries: parseInsecureRegistries([...ctx.environment.insecureRegistries, ...opts.insecureRegistry]),
            trust: ctx.environment.registryTrust,
            httpLimits: { lowSpeed: ctx.environment.lowSpeed },
            credentials: configCredentials(ctx),
            maxConcurrentUploads: opts.maxConcurrentUploads,
            onEvent: output?.onEvent,
            signal: ctx.io.signal,
          });
        } finally {
          output?.stop();
        }
        if (opts.quiet) ctx.print(`${ref.domain}/${ref.path}:${pushed.tag}`);
        else ctx.print(`${pushed.tag}: digest: ${pushed.digest} size: ${pushed.size}`);
      });
  }
}
