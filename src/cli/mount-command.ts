import type { Command } from 'commander';
import { StrataError } from '../errors.js';
import type { CliContext } from './context.js';

/**
 * `mount` and `umount` (also under `container`), as podman has them: `mount CONTAINER…`
 * prints each merged path; `mount` alone lists what is mounted (`ID PATH`, or JSON);
 * `umount` prints the ID of each container it released.
 */
export function registerMountCommands(program: Command, ctx: CliContext): void {
  const container = program.commands.find((c) => c.name() === 'container');
  for (const parent of container === undefined ? [program] : [program, container]) {
    parent
      .command('mount')
      .description("Mount a container's merged view at its MergedDir and print the path; with no container, list mounted containers")
      .argument('[container...]', 'containers, each by name or ID')
      .option('--format <format>', 'json: list mounted containers as a JSON array')
      .option('--no-trunc', 'do not truncate IDs in the list')
      .action(async (names: string[], opts: { format?: string; trunc: boolean }) => {
        if (opts.format !== undefined && opts.format !== 'json') {
          throw new StrataError('EUSAGE', `invalid --format ${JSON.stringify(opts.format)}: only json is supported`);
        }
        const store = await ctx.store();
        const { mountContainer, listMounted } = await import('../mount/mount.js');
        if (names.length > 0) {
          for (const name of names) ctx.print((await mountContainer(store, name)).mergedDir);
          return;
        }
        const mounted = await listMounted(store);
        if (opts.format === 'json') {
          ctx.print(
            JSON.stringify(
              mounted.map((m) => ({ id: m.id, names: [m.name], mountpoint: m.mergedDir })),
              null,
              2,
            ),
          );
          return;
        }
        for (const m of mounted) ctx.print(`${opts.trunc ? m.id.slice(0, 12) : m.id} ${m.mergedDir}`);
      });
    const umount = parent.command('umount').alias('unmount');
    umount
      .description("Release a container's mount; the last holder unmounts it")
      .argument('<container...>', 'containers, each by name or ID')
      .option('-f, --force', 'unmount now (lazily), whoever else holds the mount')
      .action(async (names: string[], opts: { force?: boolean }) => {
        const store = await ctx.store();
        const [{ unmountContainer }, { findContainer }] = await Promise.all([
          import('../mount/mount.js'),
          import('../container/lookup.js'),
        ]);
        for (const name of names) {
          const { id } = await findContainer(store, name);
          await unmountContainer(store, id, { force: opts.force === true });
          ctx.print(id);
        }
      });
  }
}
