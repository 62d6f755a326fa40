import type { Command } from 'commander';
import type { PushEvent } from '../transfer/push.js';
import type { CliContext } from './context.js';
import { toPositiveInt } from './image-commands.js';
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
        'reach this registry over plain HTTP (repeatable; also $STRATA_INSECURE_REGISTRIES)',
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
        const lines = opts.quiet ? undefined : pushLines(ctx, `The push refers to repository [${ref.domain}/${ref.path}]`);
        const pushed = await pushImage(store, name, {
          insecureRegistries: parseInsecureRegistries([...ctx.environment.insecureRegistries, ...opts.insecureRegistry]),
          credentials: configCredentials(ctx),
          maxConcurrentUploads: opts.maxConcurrentUploads,
          onEvent: lines,
          signal: ctx.io.signal,
        });
        if (opts.quiet) ctx.print(`${ref.domain}/${ref.path}:${pushed.tag}`);
        else ctx.print(`${pushed.tag}: digest: ${pushed.digest} size: ${pushed.size}`);
      });
  }
}

/**
 * Docker's lines, top layer first: `ID: Preparing` for each, then `ID: Pushed` or
 * `ID: Layer already exists` in the same order (uploads finish in any order, the lines do not).
 */
function pushLines(ctx: CliContext, header: string): (event: PushEvent) => void {
  let order: string[] = [];
  const outcomes = new Map<string, string>();
  let next = 0;
  return (event) => {
    if (event.type === 'layers') {
      ctx.print(header);
      order = [...event.ids].reverse();
      for (const id of order) ctx.print(`${id}: Preparing`);
      return;
    }
    const said = event.mountedFrom ? `Mounted from ${event.mountedFrom}` : event.outcome === 'pushed' ? 'Pushed' : 'Layer already exists';
    outcomes.set(event.id, said);
    for (; next < order.length && outcomes.has(order[next]!); next++) ctx.print(`${order[next]}: ${outcomes.get(order[next]!)}`);
  };
}
