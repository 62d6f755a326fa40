import type { Command } from 'commander';
import { StrataError } from '../errors.js';
import type { CliContext } from './context.js';

/** `save` and `image save`: images as Docker ≥ 25 saves them (an OCI layout with manifest.json), to a file or STDOUT. */
export function registerSaveCommand(program: Command, ctx: CliContext): void {
  const image = program.commands.find((c) => c.name() === 'image');
  for (const parent of image === undefined ? [program] : [program, image]) {
    parent
      .command('save')
      .description('Save one or more images to a tar archive (an OCI image layout with manifest.json, as docker save writes)')
      .argument('<image...>', 'image names or IDs')
      .option('-o, --output <file>', 'write to a file (atomically) instead of STDOUT')
      .option('--uncompressed', 'write layers as plain tars under new manifests (config and diffIDs unchanged), as Docker 25 does')
      .action(async (names: string[], opts: { output?: string; uncompressed?: boolean }) => {
        const store = await ctx.store();
        const { saveImages, saveImagesToFile } = await import('../transfer/save.js');
        const options = { signal: ctx.io.signal, uncompressed: opts.uncompressed === true };
        if (opts.output !== undefined) {
          await saveImagesToFile(store, names, opts.output, options);
          return;
        }
        if (ctx.io.stdout.isTTY) throw new StrataError('EUSAGE', 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
        await saveImages(store, names, ctx.io.stdout, options);
      });
  }
}
