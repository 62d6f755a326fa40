import { isStrataError } from '../errors.js';
import { compileTemplate, type CompiledTemplate, type TemplateOptions } from './template.js';
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
export function printListing<T extends object>(
  ctx: CliContext,
  items: T[],
  options: ListOptions,
  view: {
    headers: string[];
    row: (item: T) => string[];
    quiet: (item: T) => string;
    json: (item: T) => object;
    /** Fields for Go templates, as docker's formatter gives them (human sizes, short IDs); default: json. */
    template?: (item: T) => object;
    /** What errors call an item, and table headers that are not the field name in capitals. */
    templateOptions?: TemplateOptions;
  },
): void {
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
  printTemplate(
    ctx,
    compileTemplate(format, view.templateOptions),
    items.map((item) => (view.template ?? view.json)(item)),
  );
}

/** Whether `--format` asks for a Go template rather than the table or strata's `json`. */
export function isTemplate(format: string | undefined): format is string {
  return format !== undefined && format !== '' && format !== 'json' && format !== 'table';
}

/**
 * Whether a template may read a field, so that what costs a walk (ps sizes) is measured
 * only then, as docker/cli does; `{{json .}}` and `{{.}}` read every field.
 */
export function templateReads(format: string, field: string): boolean {
  return new RegExp(`\\.${field}\\b`).test(format) || /(^|[^\w.$)\]])\.($|[^\w])/.test(format.replace(/\{\{-?\s*|\s*-?\}\}/g, ' '));
}

/**
 * One rendering per value, each followed by a newline as docker/cli's formatter does;
 * with `table`, a header row and every line's tab-separated cells aligned.
 */
export function printTemplate(ctx: CliContext, template: CompiledTemplate, values: unknown[]): void {
  const rendered = values.map((value) => template.render(value));
  if (template.isTable) {
    const lines = [template.header(), ...rendered].flatMap((text) => text.split('\n'));
    ctx.io.stdout.write(table(lines.map((line) => line.split('\t'))));
  } else {
    // Always a newline, even after an empty or newline-ended rendering, as docker/cli writes it.
    for (const text of rendered) ctx.io.stdout.write(`${text}\n`);
  }
}

/** `inspect`-style output: a JSON array, or one template rendering per object. */
export function printInspect(ctx: CliContext, objects: object[], format?: string): void {
  if (format === undefined || format === '') {
    ctx.print(JSON.stringify(objects, null, 4));
    return;
  }
  const template = compileTemplate(format === 'json' ? '{{json .}}' : format);
  for (const object of objects) ctx.io.stdout.write(`${template.render(object)}\n`);
}

/**
 * docker's inspect: every object found is printed (a JSON array, `[]` when none was),
 * then one `Error: No such …` line per name that was not, and exit 1 if any.
 */
export async function printInspectEach(
  ctx: CliContext,
  names: string[],
  lookup: (name: string) => Promise<object>,
  format?: string,
): Promise<void> {
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
