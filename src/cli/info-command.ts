import type { Command } from 'commander';
import type { StoreSummary } from '../usage/info.js';
import type { CliContext } from './context.js';
import { humanSize } from './format.js';
import { compileTemplate } from './template.js';
import { strataVersion } from './version.js';

/** `docker info`, for a store: its counts, its driver and where it lives. */
export function registerInfoCommand(program: Command, ctx: CliContext): void {
  const system = program.commands.find((c) => c.name() === 'system') ?? program.command('system').description('Manage strata');
  for (const parent of [program, system]) {
    parent
      .command('info')
      .description('Display store-wide information: counts of containers, images, volumes and layers, driver, root, size')
      .option('-f, --format <format>', 'json, or a Go template over the fields `--format json` prints')
      .action(async (opts: { format?: string }) => {
        const { storeSummary } = await import('../usage/info.js');
        const view = infoView(await storeSummary(await ctx.store()));
        if (opts.format === undefined || opts.format === '') ctx.print(infoText(view));
        else if (opts.format === 'json') ctx.print(JSON.stringify(view));
        else ctx.io.stdout.write(`${compileTemplate(opts.format, { typeName: 'info' }).render(view)}\n`);
      });
  }
}

/** Field names as `docker info --format '{{json .}}'` names them, strata's own beside them. */
function infoView(s: StoreSummary) {
  return {
    Containers: s.containers.total,
    ContainersRunning: s.containers.running,
    ContainersPaused: s.containers.paused,
    ContainersStopped: s.containers.stopped,
    Images: s.images,
    Volumes: s.volumes,
    Layers: s.layers,
    Blobs: s.blobs,
    Driver: s.driver,
    DriverStatus: [
      ['Whiteout Format', s.whiteoutFormat],
      ['Rootless', String(s.rootless)],
      ['Store Format', String(s.formatVersion)],
    ],
    WhiteoutFormat: s.whiteoutFormat,
    Rootless: s.rootless,
    StoreFormat: s.formatVersion,
    ServerVersion: strataVersion(),
    StrataRootDir: s.root,
    StoreSize: s.size,
    StoreAllocatedSize: s.allocatedSize,
  };
}

/** docker info's layout: a count with its breakdown indented below it, the driver with its status. */
function infoText(v: ReturnType<typeof infoView>): string {
  return [
    `Containers: ${v.Containers}`,
    ` Running: ${v.ContainersRunning}`,
    ` Paused: ${v.ContainersPaused}`,
    ` Stopped: ${v.ContainersStopped}`,
    `Images: ${v.Images}`,
    `Volumes: ${v.Volumes}`,
    `Layers: ${v.Layers}`,
    `Blobs: ${v.Blobs}`,
    `Strata Version: ${v.ServerVersion}`,
    `Storage Driver: ${v.Driver}`,
    ...v.DriverStatus.map(([key, value]) => ` ${key}: ${value}`),
    `Strata Root Dir: ${v.StrataRootDir}`,
    `Store Size: ${humanSize(v.StoreSize)} (${v.StoreSize} bytes; ${humanSize(v.StoreAllocatedSize)} allocated)`,
  ].join('\n');
}
