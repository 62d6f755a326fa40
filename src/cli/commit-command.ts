import type { Command } from 'commander';
import { StrataError } from '../errors.js';
import type { CliContext } from './context.js';

/** The latest second RFC 3339 can write (9999-12-31T23:59:59Z). */
const MAX_EPOCH = 253402300799;

interface CommitFlags {
  author?: string;
  message?: string;
  change: string[];
  sourceDateEpoch?: string;
  compression: string;
}

/** `commit` and `container commit`: a container's changes become a new image, as `docker commit`; prints the image ID. */
export function registerCommitCommand(program: Command, ctx: CliContext): void {
  const container = program.commands.find((c) => c.name() === 'container');
  for (const parent of container === undefined ? [program] : [program, container]) {
    parent
      .command('commit')
      .description("Create a new image from a container's changes")
      .argument('<container>', 'container name or ID')
      .argument('[repository[:tag]]', 'the reference to tag the new image with')
      .option('-a, --author <author>', 'author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
      .option('-m, --message <message>', 'commit message')
      .option(
        '-c, --change <instruction>',
        'apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)',
        collect,
        [],
      )
      .option('--source-date-epoch <seconds>', 'clamp mtimes to this time and use it as the creation time (default: $SOURCE_DATE_EPOCH)')
      .option('--compression <kind>', 'how the new layer is stored: gzip or none', 'gzip')
      .action(async (name: string, reference: string | undefined, opts: CommitFlags) => {
        const compression = opts.compression;
        if (compression !== 'gzip' && compression !== 'none') {
          throw new StrataError('EUSAGE', `invalid --compression ${JSON.stringify(compression)}: use gzip or none`);
        }
        const sourceDateEpoch =
          opts.sourceDateEpoch !== undefined
            ? epochOf(opts.sourceDateEpoch, '--source-date-epoch')
            : ctx.environment.sourceDateEpoch !== undefined
              ? epochOf(ctx.environment.sourceDateEpoch, 'SOURCE_DATE_EPOCH')
              : undefined;
        const store = await ctx.store();
        const [{ findContainer }, { commitContainer }] = await Promise.all([
          import('../container/lookup.js'),
          import('../transfer/commit.js'),
        ]);
        const record = await findContainer(store, name);
        const image = await commitContainer(store, record, {
          author: opts.author,
          message: opts.message,
          changes: opts.change,
          reference,
          sourceDateEpoch,
          compression,
          signal: ctx.io.signal,
          onSkipped: (s) => ctx.io.stderr.write(`strata: warning: skipped ${s.path} (${s.type}): ${s.reason}\n`),
        });
        ctx.print(image.id);
      });
  }
}

/** Whole seconds since 1970-01-01 UTC, as reproducible-builds.org defines SOURCE_DATE_EPOCH. */
function epochOf(text: string, what: string): number {
  const seconds = Number(text);
  if (!/^\d+$/.test(text) || seconds > MAX_EPOCH) {
    throw new StrataError('EUSAGE', `invalid ${what} ${JSON.stringify(text)}: want whole seconds since 1970-01-01 UTC (0 to ${MAX_EPOCH})`);
  }
  return seconds;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
