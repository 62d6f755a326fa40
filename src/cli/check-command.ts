import path from 'node:path';
import type { Command } from 'commander';
import type { CheckReport } from '../check/check.js';
import { isStrataError } from '../errors.js';
import type { Store } from '../store/root.js';
import type { CliContext } from './context.js';
import { ExitStatus } from './main.js';

export function registerCheckCommand(program: Command, ctx: CliContext): void {
  program
    .command('check')
    .description('Verify every blob digest, layer directory and record; list each problem')
    .option(
      '--repair',
      'fix what can be fixed without guessing (leftovers, stale leases and locks, records whose data is gone); one line per fix',
    )
    .option('--deep', 'also re-hash every file of every unpacked layer against the digests recorded at unpack')
    .option(
      '--format <format>',
      'json for one JSON object per problem (and per fix); or a Go template over .Type (problem, fixed, note), .Kind, .Path, .Message',
    )
    .action(async (opts: { repair?: boolean; deep?: boolean; format?: string }) => {
      const json = opts.format === 'json';
      // A bad template fails before anything is checked or repaired.
      const [{ isTemplate }, { compileTemplate }] = await Promise.all([import('./output.js'), import('./template.js')]);
      const template = isTemplate(opts.format) ? compileTemplate(opts.format, { typeName: 'check result' }) : undefined;
      const say = (line: string, object: object, fields: CheckLine) => {
        if (template) ctx.io.stdout.write(`${template.render(fields)}\n`);
        else ctx.print(json ? JSON.stringify(object) : line);
      };
      // Loaded here: defining the command must not cost what only running it needs.
      const [{ checkStore }, { repairStore }, { deepCheckStore }] = await Promise.all([
        import('../check/check.js'),
        import('../check/repair.js'),
        import('../check/deep.js'),
      ]);
      const store = await storeForCheck(ctx);
      const report: CheckReport & { fixed?: string[] } = opts.repair
        ? await repairStore(store, { onFix: (line) => say(line, { fixed: line }, { Type: 'fixed', Kind: '', Path: '', Message: line }) })
        : await checkStore(store);
      // Deep problems are reported, never repaired: a rotten layer file cannot be fixed without guessing.
      if (opts.deep) report.problems.push(...(await deepCheckStore(store)));
      for (const problem of report.problems) {
        say(problem.message, problem, { Type: 'problem', Kind: problem.kind, Path: problem.path, Message: problem.message });
      }
      for (const note of report.notes) say(`note: ${note}`, { note }, { Type: 'note', Kind: '', Path: '', Message: note });
      if (!json && !template) {
        const { blobs, layers, images, tags, containers } = report.checked;
        const fixed = report.fixed === undefined ? '' : `${report.fixed.length} fixed, `;
        const left =
          report.problems.length === 0 ? 'no problems' : `${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`;
        ctx.io.stderr.write(
          `checked ${blobs} blobs, ${layers} layers, ${images} images, ${tags} tags, ${containers} containers: ${fixed}${left}\n`,
        );
      }
      if (report.problems.length > 0) throw new ExitStatus(1);
    });
}

/** What a `check --format` template sees for each line check prints. */
interface CheckLine {
  Type: 'problem' | 'fixed' | 'note';
  Kind: string;
  Path: string;
  Message: string;
}

/**
 * check must work on the store it is asked to check even when store.json itself is
 * what is damaged: then the store is opened without it (whiteout format unknown, so
 * 'oci'), and checkStore reports the file.
 */
async function storeForCheck(ctx: CliContext): Promise<Store> {
  try {
    return await ctx.store();
  } catch (err) {
    const [{ DEFAULT_LOCK_TIMEOUT_MS }, { StorePaths }] = await Promise.all([import('../store/root.js'), import('../store/paths.js')]);
    const root = path.resolve(ctx.root());
    const { privileged, lockTimeoutMs } = ctx.environment;
    const paths = new StorePaths(root);
    if (!isStrataError(err, 'EBADRECORD') || err.path !== paths.storeFile) throw err;
    return {
      root,
      paths,
      whiteoutFormat: 'oci',
      privileged,
      lockTimeoutMs: lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      info: { formatVersion: 0, whiteoutFormat: 'oci', rootless: !privileged, created: '' },
    };
  }
}
