import type { Command } from 'commander';
import { checkStore } from '../check/check.js';
import type { CliContext } from './context.js';
import { ExitStatus } from './main.js';

export function registerCheckCommand(program: Command, ctx: CliContext): void {
  program.command('check')
    .description('Verify every blob digest, layer directory and record; list each problem')
    .option('--format <format>', 'json for one JSON object per problem')
    .action(async (opts: { format?: string }) => {
      const report = await checkStore(await ctx.store());
      for (const problem of report.problems) {
        ctx.print(opts.format === 'json' ? JSON.stringify(problem) : problem.message);
      }
      if (opts.format !== 'json') {
        const { blobs, layers, images, tags } = report.checked;
        ctx.io.stderr.write(`checked ${blobs} blobs, ${layers} layers, ${images} images, ${tags} tags: ${report.problems.length === 0 ? 'no problems' : `${report.problems.length} problems`}\n`);
      }
      if (report.problems.length > 0) throw new ExitStatus(1);
    });
}
