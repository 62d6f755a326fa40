import { StrataError } from '../errors.js';
import { FunctionError, GO_TYPE, TEMPLATE_FUNCTIONS, goString, isGoMap, truth } from './template-functions.js';
import { lineOf, parseTemplate, type Command, type ControlNode, type Operand, type Pipe, type TemplateNode } from './template-parse.js';

export { GO_TYPE, goString } from './template-functions.js';

/**
 * A documented subset of Go's text/template, enough for the `--format` strings people
 * use with docker:
 *   {{.Field.Sub}} {{$.Field}} {{$v := .X}}  values and variables, printed the way Go prints them ([a b], map[k:v])
 *   {{if …}} {{else if …}} {{else}} {{end}}  also {{with …}}; `{{-` and `-}}` trim spaces; {{/* comments *\/}}
 *   {{range .List}} {{range $i, $e := .Map}} … {{else}} … {{end}}
 *   {{.A | printf "%-10s"}} {{(index .B 0).Name}}  pipelines and parenthesised pipelines
 *   functions: json join split title lower upper pad truncate (docker's), len index slice
 *   print printf println not and or eq ne lt le gt ge (Go's)
 * and the `table` prefix, which prints a header row and aligns columns. `\t` and `\n`
 * escapes are understood as docker does. Errors read as Go's do: `template: :1:2:
 * executing "" at <.Nope>: can't evaluate field Nope in type image`.
 */
export interface CompiledTemplate {
  isTable: boolean;
  render(value: unknown): string;
  header(): string;
}

export interface TemplateOptions {
  /** What the top-level object is called in errors (`can't evaluate field X in type container`). */
  typeName?: string;
  /** Table headers for fields whose header is not the field name spelt in capitals (`ID` → `CONTAINER ID`). */
  headers?: Record<string, string>;
}

/** The functions a template may call: the table below, nothing else. */
const FUNCTION_NAMES = { has: (name: string): boolean => Object.hasOwn(TEMPLATE_FUNCTIONS, name) };

export function compileTemplate(source: string, options: TemplateOptions = {}): CompiledTemplate {
  let body = source;
  const isTable = /^table(\s|$)/.test(body);
  if (isTable) body = body.slice('table'.length);
  // docker/cli trims spaces around the format and reads \t and \n as escapes.
  body = body
    .replace(/^ +| +$/g, '')
    .replace(/\\t/g, '\t')
    .replace(/\\n/g, '\n');
  const tree = parseTemplate(body, FUNCTION_NAMES);
  const run = (value: unknown, header: boolean) => {
    const out: string[] = [];
    new Execution(body, value, options, header).list(tree, value, [], out);
    return out.join('');
  };
  return { isTable, render: (value) => run(value, false), header: () => run(undefined, true) };
}

interface Variable {
  name: string;
  value: unknown;
}

/** Docker's table headers are the field names in capitals with spaces (`.LocalVolumes` → LOCAL VOLUMES). */
const HEADERS: Record<string, string> = { ID: 'IMAGE ID', CreatedSince: 'CREATED', RunningFor: 'CREATED', CreatedAt: 'CREATED AT' };

class Execution {
  constructor(
    private readonly text: string,
    private readonly root: unknown,
    private readonly options: TemplateOptions,
    /** Rendering the header row: every field reads as its column header. */
    private readonly header: boolean,
  ) {}

  list(nodes: TemplateNode[], dot: unknown, scope: Variable[], out: string[]): void {
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          out.push(node.text);
          break;
        case 'action': {
          const value = this.pipe(node.pipe, dot, scope);
          if (node.pipe.decl.length === 0) out.push(goString(value));
          break;
        }
        case 'if':
        case 'with': {
          const inner = [...scope];
          const value = this.pipe(node.pipe, dot, inner);
          if (this.header || truth(value)) this.list(node.list, node.kind === 'with' && !this.header ? value : dot, inner, out);
          else if (node.elseList) this.list(node.elseList, dot, [...scope], out);
          break;
        }
        case 'range':
          this.range(node, dot, scope, out);
          break;
      }
    }
  }

  private range(node: ControlNode, dot: unknown, scope: Variable[], out: string[]): void {
    if (this.header) {
      this.list(node.list, dot, [...scope], out);
      return;
    }
    const value = this.pipe({ ...node.pipe, decl: [] }, dot, scope);
    let entries: [unknown, unknown][];
    if (value === null || value === undefined) entries = [];
    else if (Array.isArray(value)) entries = value.map((v, i) => [i, v]);
    else if (typeof value === 'object')
      entries = Object.keys(value)
        .sort()
        .map((k) => [k, (value as Record<string, unknown>)[k]]);
    else throw this.failure(node.pipe.pos, node.pipe.cmds[0]!.text, `range can't iterate over ${goString(value)}`);
    if (entries.length === 0) {
      if (node.elseList) this.list(node.elseList, dot, [...scope], out);
      return;
    }
    const [first, second] = node.pipe.decl;
    for (const [key, element] of entries) {
      const inner = [...scope];
      if (second !== undefined) inner.push({ name: first!, value: key }, { name: second, value: element });
      else if (first !== undefined) inner.push({ name: first, value: element });
      this.list(node.list, element, inner, out);
    }
  }

  private pipe(pipe: Pipe, dot: unknown, scope: Variable[]): unknown {
    let value: unknown;
    for (const [i, cmd] of pipe.cmds.entries()) value = this.command(cmd, dot, scope, i > 0, value);
    for (const name of pipe.decl) {
      // `$x = v` assigns a variable declared before; `$x := v` declares one.
      const existing = lastVariable(scope, name);
      if (!pipe.assign) scope.push({ name, value });
      else if (existing) existing.value = value;
      else throw this.failure(pipe.pos, name, `undefined variable "${name}"`);
    }
    return value;
  }

  private command(cmd: Command, dot: unknown, scope: Variable[], piped: boolean, final: unknown): unknown {
    const [head, ...rest] = cmd.args;
    if (head!.kind === 'function' && (head!.name === 'and' || head!.name === 'or') && !piped && rest.length > 0) {
      // Go (1.18+, which docker 20.10.24 is built with) stops at the first argument that decides.
      let value: unknown;
      for (const arg of rest) {
        value = this.operand(arg, dot, scope);
        if (truth(value) === (head!.name === 'or')) break;
      }
      return value;
    }
    if (head!.kind === 'function') {
      const args = rest.map((a) => this.operand(a, dot, scope));
      if (piped) args.push(final);
      return this.call(head!.name, args, cmd);
    }
    if (rest.length > 0 || piped) throw this.failure(cmd.pos, cmd.text, `can't give argument to non-function ${head!.text}`);
    return this.operand(head!, dot, scope);
  }

  private call(name: string, args: unknown[], cmd: Command): unknown {
    const spec = TEMPLATE_FUNCTIONS[name]!;
    if (args.length < spec.min || args.length > spec.max) {
      throw this.failure(
        cmd.pos,
        cmd.text,
        `wrong number of args for ${name}: want ${spec.min === spec.max ? spec.min : `at least ${spec.min}`} got ${args.length}`,
      );
    }
    try {
      return spec.call(...args);
    } catch (err) {
      if (this.header) return '';
      if (err instanceof FunctionError) throw this.failure(cmd.pos, cmd.text, `error calling ${name}: ${err.message}`);
      throw err;
    }
  }

  private operand(operand: Operand, dot: unknown, scope: Variable[]): unknown {
    switch (operand.kind) {
      case 'literal':
        return operand.value;
      case 'function':
        return this.call(operand.name, [], { pos: operand.pos, text: operand.text, args: [operand] });
      case 'field':
        if (this.header) return this.headerOf(operand.names);
        return this.fields(dot, operand.names, operand, undefined);
      case 'variable': {
        const variable = operand.name === '$' ? { value: this.root } : lastVariable(scope, operand.name);
        if (!variable) throw this.failure(operand.pos, operand.text, `undefined variable "${operand.name}"`);
        if (this.header) return operand.names.length > 0 ? this.headerOf(operand.names) : '';
        return this.fields(variable.value, operand.names, operand, undefined);
      }
      case 'pipe':
        if (this.header && operand.names.length > 0) return this.headerOf(operand.names);
        return this.fields(this.pipe(operand.pipe, dot, [...scope]), operand.names, operand, undefined);
    }
  }

  /** `.A.B` from a value. Go: a struct without the field is an error, a map without the key is `<no value>`. */
  private fields(receiver: unknown, names: string[], operand: Operand, reachedBy: string | undefined): unknown {
    let value = receiver;
    let via = reachedBy;
    for (const name of names) {
      if (value === null || value === undefined)
        throw this.failure(operand.pos, operand.text, `nil pointer evaluating interface {}.${name}`);
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw this.failure(
          operand.pos,
          operand.text,
          `can't evaluate field ${name} in type ${Array.isArray(value) ? '[]interface {}' : typeof value}`,
        );
      }
      if (Object.hasOwn(value, name)) {
        value = (value as Record<string, unknown>)[name];
      } else if (isGoMap(value, via)) {
        value = undefined;
      } else {
        const type = (value as { [GO_TYPE]?: string })[GO_TYPE] ?? (value === this.root ? this.options.typeName : via);
        throw this.failure(operand.pos, operand.text, `can't evaluate field ${name} in type ${type ?? 'object'}`);
      }
      via = name;
    }
    return value;
  }

  private headerOf(names: string[]): string {
    const name = names[names.length - 1];
    if (name === undefined) return '';
    return this.options.headers?.[name] ?? HEADERS[name] ?? name.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
  }

  private failure(pos: number, at: string, message: string): StrataError {
    const lineStart = this.text.lastIndexOf('\n', pos - 1) + 1;
    return new StrataError('EUSAGE', `template: :${lineOf(this.text, pos)}:${pos - lineStart}: executing "" at <${at}>: ${message}`);
  }
}

/** The innermost variable of that name: an inner {{range}} or {{if}} may declare it again. */
function lastVariable(scope: Variable[], name: string): Variable | undefined {
  for (let i = scope.length - 1; i >= 0; i--) if (scope[i]!.name === name) return scope[i];
  return undefined;
}
