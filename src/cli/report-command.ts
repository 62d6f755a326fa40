import type { Command } from 'commander';
import { StrataError } from '../errors.js';
import type { CliContext } from './context.js';
import { dfProgress } from './progress.js';

export function registerReportCommand(program: Command, ctx: CliContext): void {
  program
    .command('report')
    .description('Write one self-contained HTML page of where the disk went: layers, containers, waste, and a file explorer')
    .argument('[name...]', 'images or containers to show (default: the whole store)')
    .option('-o, --output <file>', 'write to a file (atomically) instead of STDOUT')
    .option('--format <format>', 'json for the data the page is drawn from')
    .action(async (names: string[], opts: { output?: string; format?: string }) => {
      if (opts.format !== undefined && opts.format !== 'json')
        throw new StrataError('EUSAGE', `unknown --format ${JSON.stringify(opts.format)}: report writes HTML, or JSON with --format json`);
      const [{ collectReport }, { reportHtml }, { streamToFile }] = await Promise.all([
        import('../report/collect.js'),
        import('../report/html.js'),
        import('../store/stream-to-file.js'),
      ]);
      const store = await ctx.store();
      const write = async (out: NodeJS.WritableStream) => {
        const progress = dfProgress(ctx, opts.output === undefined);
        const data = await collectReport(store, { names, onProgress: progress?.update }).finally(() => progress?.stop());
        out.write(opts.format === 'json' ? `${JSON.stringify(data)}\n` : await reportHtml(data));
      };
      // With -o the file is opened first: a directory that is not there fails before anything is measured.
      if (opts.output === undefined) await write(ctx.io.stdout);
      else await streamToFile(opts.output, write);
    });
}
