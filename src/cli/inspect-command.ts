import type { Command } from 'commander';
import { isStrataError } from '../errors.js';
import type { CliContext } from './context.js';
import { printInspect } from './output.js';

/** `docker inspect NAME`: a container by that name or ID first, else an image. */
export function registerInspectCommand(program: Command, ctx: CliContext): void {
  program.command('inspect').description('Return low-level information on containers or images')
    .argument('<name...>')
    .option('-f, --format <format>', 'format the output using a Go template')
    .option('--type <type>', 'only look for a container or an image')
    .action(async (names: string[], opts: { format?: string; type?: 'container' | 'image' }) => {
      const store = await ctx.store();
      const [{ findContainer }, { inspectContainer }, { findImage }, { inspectImage }, { readTags, tagsOf }] = await Promise.all([
        import('../container/lookup.js'), import('../container/inspect.js'), import('../image/lookup.js'), import('../image/inspect.js'), import('../image/tags.js'),
      ]);
      const objects: object[] = [];
      for (const name of names) {
        if (opts.type !== 'image') {
          try {
            objects.push(inspectContainer(store, await findContainer(store, name)));
            continue;
          } catch (err) {
            if (!isStrataError(err, 'ENOTFOUND') || opts.type === 'container') throw err;
          }
        }
        const image = await findImage(store, name).catch((err) => {
          if (isStrataError(err, 'ENOTFOUND')) throw Object.assign(err, { message: `No such object: ${name}` });
          throw err;
        });
        objects.push(await inspectImage(store, image, tagsOf(await readTags(store), image.id)));
      }
      printInspect(ctx, objects, opts.format);
    });
}
