import { isStrataError } from '../errors.js';
import { compileTemplate } from './template.js';
import { ToolError } from './tool-error.js';
import { table } from './format.js';
import type { CliContext } from './context.js';

export interface ListOptions {
  format?: string;
  quiet?: boolean;
}

/**
 * Prints a listing the three ways docker does: the default table, `--format json`
 * (one JSON object per line, for scripts), or a Go-template (`table` prefix aligns).
 */
export function printListing<T extends object>(ctx: CliContext, items: T[], options: ListOptions, view: {
  headers: string[];
  row: (item: T) => string[];
  quiet: (item: T) => string;
  json: (item: T) => object;
  /** Fields for Go templates, as docker's formatter gives them (human sizes, short IDs); default: json. */
  template?: (item: T) => object;
}): void {
  if (options.quiet) {
    for (const item of items) {
      const line = view.quiet(item);
      if (line !== '') ctx.print(line);
    }
    return;
  }
  const format = options.format;
  if (format === 'json') {
    for (const item of items) ctx.print(JSON.stringify(view.json(item)));
    return;
  }
  if (format === undefined || format === '' || format === 'table') {
    ctx.io.stdout.write(table([view.headers, ...items.map(view.row)]));
    return;
  }
  const template = compileTemplate(format);
  const lines = items.map((item) => template.render((view.template ?? view.json)(item)));
  if (template.isTable) {
    ctx.io.stdout.write(table([template.header(), ...lines].map((l) => l.split('\t'))));
  } else {
    for (const line of lines) ctx.print(line);
  }
}

/** `inspect`-style output: a JSON array, or one template rendering per object. */
export function printInspect(ctx: CliContext, objects: object[], format?: string): void {
  if (format === undefined || format === '') {
    ctx.print(JSON.stringify(objects, null, 4));
    return;
  }
  const template = compileTemplate(format === 'json' ? '{{json .}}' : format);
  for (const object of objects) ctx.print(template.render(object));
}

/**
 * docker's inspect: every object found is printed (a JSON array, `[]` when none was),
 * then one `Error: No such …` line per name that was not, and exit 1 if any.
 */
export async function printInspectEach(ctx: CliContext, names: string[], lookup: (name: string) => Promise<object>, format?: string): Promise<void> {
  const found: object[] = [];
  const missing: string[] = [];
  for (const name of names) {
    try {
      found.push(await lookup(name));
    } catch (err) {
      if (!isStrataError(err, 'ENOTFOUND')) throw err;
      missing.push(`Error: ${err.message}`);
    }
  }
  if (found.length > 0 || format === undefined || format === '') printInspect(ctx, found, format);
  if (missing.length > 0) throw new ToolError(missing);
}

/** docker's multi-name commands: act on each, report each failure, fail at the end if any did. */
export async function eachName(ctx: CliContext, names: string[], act: (name: string) => Promise<void>): Promise<void> {
  let failure: unknown;
  for (const name of names) {
    try {
      await act(name);
    } catch (err) {
      if (failure !== undefined) ctx.io.stderr.write(`strata: ${(failure as Error).message}\n`);
      failure = err;
    }
  }
  if (failure !== undefined) throw failure;
}

