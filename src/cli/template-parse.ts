import { StrataError } from '../errors.js';

/**
 * The parser half of strata's Go text/template subset (template.ts runs the tree).
 * Positions are offsets into the template text, for Go-shaped error messages.
 */

/** `decl` names the variables `$x := …` declares, or (with `assign`) the one `$x = …` sets. */
export interface Pipe {
  pos: number;
  decl: string[];
  assign: boolean;
  cmds: Command[];
}
export interface Command {
  pos: number;
  text: string;
  args: Operand[];
}
export type Operand =
  | { kind: 'field'; pos: number; text: string; names: string[] }
  | { kind: 'variable'; pos: number; text: string; name: string; names: string[] }
  | { kind: 'function'; pos: number; text: string; name: string }
  | { kind: 'pipe'; pos: number; text: string; pipe: Pipe; names: string[] }
  | { kind: 'literal'; pos: number; text: string; value: unknown };
export type TemplateNode = { kind: 'text'; text: string } | { kind: 'action'; pos: number; pipe: Pipe } | ControlNode;
export interface ControlNode {
  kind: 'if' | 'with' | 'range';
  pos: number;
  pipe: Pipe;
  list: TemplateNode[];
  elseList?: TemplateNode[];
}

interface Token {
  type: TokenType;
  value: string;
  pos: number;
  end: number;
}
type TokenType = 'field' | 'variable' | 'identifier' | 'string' | 'number' | 'bool' | 'nil' | '(' | ')' | '|' | ':=' | '=' | ',';

/** A parse error, worded as Go words it (`template: :1: function "nope" not defined`). */
export function parseError(text: string, pos: number, message: string): StrataError {
  return new StrataError('EUSAGE', `template: :${lineOf(text, pos)}: ${message}`);
}

export function lineOf(text: string, pos: number): number {
  return text.slice(0, pos).split('\n').length;
}

interface Action {
  pos: number;
  tokens: Token[];
}
type Piece = { text: string } | Action;

/** Splits text from actions, honouring `{{-`/`-}}` trim markers and `{{/* comments *\/}}`. */
function split(text: string): Piece[] {
  const pieces: Piece[] = [];
  let at = 0;
  let trimNext = false;
  while (at <= text.length) {
    const open = text.indexOf('{{', at);
    let chunk = text.slice(at, open < 0 ? text.length : open);
    if (trimNext) chunk = chunk.replace(/^\s+/, '');
    if (open < 0) {
      if (chunk !== '') pieces.push({ text: chunk });
      break;
    }
    let inner = open + 2;
    if (/^-[ \t\r\n]/.test(text.slice(inner, inner + 2))) {
      chunk = chunk.replace(/\s+$/, '');
      inner += 2;
    }
    if (chunk !== '') pieces.push({ text: chunk });
    const { tokens, close, trimAfter, comment } = lexAction(text, inner);
    if (!comment) pieces.push({ pos: inner, tokens });
    trimNext = trimAfter;
    at = close;
  }
  return pieces;
}

const SIMPLE = new Set(['(', ')', '|', ',', '=']);

function lexAction(text: string, start: number): { tokens: Token[]; close: number; trimAfter: boolean; comment: boolean } {
  const tokens: Token[] = [];
  let i = start;
  const rest = () => text.slice(i);
  while (true) {
    while (i < text.length && /[ \t\r\n]/.test(text[i]!)) {
      if (/^[ \t\r\n]-\}\}/.test(rest())) break;
      i++;
    }
    if (i >= text.length) throw parseError(text, start, 'unclosed action');
    if (rest().startsWith('}}')) return { tokens, close: i + 2, trimAfter: false, comment: false };
    if (/^[ \t\r\n]-\}\}/.test(rest())) return { tokens, close: i + 4, trimAfter: true, comment: false };
    if (rest().startsWith('/*')) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw parseError(text, i, 'unclosed comment');
      const after = text.slice(end + 2);
      const close = /^\s*-?\s*\}\}/.exec(after);
      if (!close) throw parseError(text, i, 'comment ends before closing delimiter');
      return { tokens, close: end + 2 + close[0].length, trimAfter: close[0].includes('-'), comment: true };
    }
    const c = text[i]!;
    const pos = i;
    const take = (type: TokenType, length: number) => {
      tokens.push({ type, value: text.slice(pos, pos + length), pos, end: pos + length });
      i = pos + length;
    };
    if (rest().startsWith(':=')) take(':=', 2);
    else if (SIMPLE.has(c)) take(c as TokenType, 1);
    else if (c === '"') {
      const m = /^"(?:[^"\\\n]|\\.)*"/.exec(rest());
      if (!m) throw parseError(text, pos, 'unterminated quoted string');
      take('string', m[0].length);
    } else if (c === '`') {
      const end = text.indexOf('`', i + 1);
      if (end < 0) throw parseError(text, pos, 'unterminated raw quoted string');
      take('string', end + 1 - pos);
    } else if (c === '.' && !/^\.[A-Za-z_]/.test(rest())) {
      if (/^\.\d/.test(rest())) take('number', /^\.\d+(?:[eE][-+]?\d+)?/.exec(rest())![0].length);
      else take('field', 1);
    } else if (c === '.') take('field', /^\.[A-Za-z_]\w*/.exec(rest())![0].length);
    else if (c === '$') take('variable', /^\$\w*/.exec(rest())![0].length);
    else if (/[-+\d]/.test(c)) {
      const m = /^[-+]?(?:0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)/.exec(rest());
      if (!m) throw parseError(text, pos, `bad number syntax: "${c}"`);
      take('number', m[0].length);
    } else if (c === "'") {
      const m = /^'(?:[^'\\]|\\.)+'/.exec(rest());
      if (!m) throw parseError(text, pos, 'unterminated character constant');
      take('number', m[0].length);
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^\w+/.exec(rest())![0];
      take(word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'identifier', word.length);
    } else {
      throw parseError(text, pos, `unexpected "${c}" in command`);
    }
  }
}

/** Parses a template (after docker's `\t`/`\n` escapes are applied) into a tree. */
export function parseTemplate(text: string, functions: { has(name: string): boolean }): TemplateNode[] {
  const pieces = split(text);
  let index = 0;
  const parseList = (): { list: TemplateNode[]; stop?: Action & { word: string } } => {
    const list: TemplateNode[] = [];
    while (index < pieces.length) {
      const piece = pieces[index++]!;
      if ('text' in piece) {
        list.push({ kind: 'text', text: piece.text });
        continue;
      }
      const [first] = piece.tokens;
      if (first === undefined) throw parseError(text, piece.pos, 'missing value for command');
      const word = first.type === 'identifier' ? first.value : '';
      if (word === 'end' || word === 'else') return { list, stop: { ...piece, word } };
      if (word === 'if' || word === 'with' || word === 'range') {
        list.push(parseControl(word, piece));
        continue;
      }
      if (['define', 'template', 'block', 'break', 'continue'].includes(word))
        throw parseError(text, first.pos, `{{${word}}} is not supported by strata`);
      list.push({ kind: 'action', pos: piece.pos, pipe: parsePipe(text, piece.tokens, 0, piece.tokens.length, functions, false) });
    }
    return { list };
  };
  const parseControl = (word: 'if' | 'with' | 'range', action: Action): TemplateNode => {
    const pipe = parsePipe(text, action.tokens, 1, action.tokens.length, functions, word === 'range');
    if (pipe.cmds.length === 0) throw parseError(text, action.pos, `missing value for ${word}`);
    const body = parseList();
    if (!body.stop) throw parseError(text, text.length, 'unexpected EOF');
    const node: ControlNode = { kind: word, pos: action.pos, pipe, list: body.list };
    if (body.stop.word === 'else') {
      const [, next] = body.stop.tokens;
      if (next !== undefined && next.type === 'identifier' && (next.value === 'if' || next.value === 'with')) {
        // `{{else if …}}` is an if nested in the else branch, closed by the same {{end}}.
        node.elseList = [parseControl(next.value, { pos: next.pos, tokens: body.stop.tokens.slice(1) })];
        return node;
      }
      if (body.stop.tokens.length > 1) throw parseError(text, body.stop.pos, `unexpected ${body.stop.tokens[1]!.value} in else`);
      const rest = parseList();
      if (rest.stop?.word !== 'end') throw parseError(text, text.length, rest.stop ? 'unexpected {{else}}' : 'unexpected EOF');
      node.elseList = rest.list;
    } else if (body.stop.tokens.length > 1) {
      throw parseError(text, body.stop.pos, `unexpected ${body.stop.tokens[1]!.value} in end`);
    }
    return node;
  };
  const top = parseList();
  if (top.stop) throw parseError(text, top.stop.pos, `unexpected {{${top.stop.word}}}`);
  return top.list;
}

function parsePipe(
  text: string,
  tokens: Token[],
  from: number,
  to: number,
  functions: { has(name: string): boolean },
  inRange: boolean,
): Pipe {
  let i = from;
  const decl: string[] = [];
  let assign = false;
  // `$x := …`, and in range `$i, $e := …`.
  const declEnd = tokens.slice(from, to).findIndex((t) => t.type === ':=' || t.type === '=');
  if (declEnd >= 0 && tokens[from]?.type === 'variable') {
    const names = tokens.slice(from, from + declEnd);
    const ok = names.every((t, k) => (k % 2 === 0 ? t.type === 'variable' : t.type === ',')) && names.length % 2 === 1;
    if (!ok || (names.length > 1 && !inRange) || names.length > 3) throw parseError(text, tokens[from]!.pos, 'too many declarations');
    decl.push(...names.filter((t) => t.type === 'variable').map((t) => t.value));
    assign = tokens[from + declEnd]!.type === '=';
    i = from + declEnd + 1;
  }
  const pos = tokens[i]?.pos ?? tokens[from]?.pos ?? 0;
  const cmds: Command[] = [];
  while (i < to) {
    const start = i;
    const args: Operand[] = [];
    while (i < to && tokens[i]!.type !== '|') {
      const [operand, next] = parseOperand(text, tokens, i, to, functions);
      args.push(operand);
      i = next;
    }
    if (args.length === 0) throw parseError(text, tokens[i]?.pos ?? pos, 'missing value for command');
    const end = tokens[i - 1]!.end;
    cmds.push({ pos: tokens[start]!.pos, text: text.slice(tokens[start]!.pos, end), args });
    if (i < to) {
      i++;
      if (i >= to) throw parseError(text, tokens[i - 1]!.pos, 'missing command after |');
    }
  }
  for (const [k, cmd] of cmds.entries()) {
    if (k > 0 && cmd.args[0]!.kind !== 'function' && cmd.args[0]!.kind !== 'pipe') {
      throw parseError(text, cmd.pos, `non executable command in pipeline stage ${k + 1}`);
    }
  }
  return { pos, decl, assign, cmds };
}

/** One operand, with any `.Field` chain written right after it (`$x.Name`, `(index .A 0).B`). */
function parseOperand(text: string, tokens: Token[], i: number, to: number, functions: { has(name: string): boolean }): [Operand, number] {
  const token = tokens[i]!;
  let operand: Operand;
  let next = i + 1;
  switch (token.type) {
    case 'field':
      operand = { kind: 'field', pos: token.pos, text: token.value, names: token.value === '.' ? [] : [token.value.slice(1)] };
      break;
    case 'variable':
      operand = { kind: 'variable', pos: token.pos, text: token.value, name: token.value, names: [] };
      break;
    case 'identifier':
      if (!functions.has(token.value)) throw parseError(text, token.pos, `function "${token.value}" not defined`);
      operand = { kind: 'function', pos: token.pos, text: token.value, name: token.value };
      break;
    case 'string':
      operand = { kind: 'literal', pos: token.pos, text: token.value, value: unquote(text, token) };
      break;
    case 'number':
      operand = { kind: 'literal', pos: token.pos, text: token.value, value: numberOf(text, token) };
      break;
    case 'bool':
      operand = { kind: 'literal', pos: token.pos, text: token.value, value: token.value === 'true' };
      break;
    case 'nil':
      operand = { kind: 'literal', pos: token.pos, text: token.value, value: null };
      break;
    case '(': {
      let depth = 1;
      let close = i + 1;
      for (; close < to && depth > 0; close++) {
        if (tokens[close]!.type === '(') depth++;
        if (tokens[close]!.type === ')') depth--;
      }
      if (depth > 0) throw parseError(text, token.pos, 'unclosed left paren');
      const pipe = parsePipe(text, tokens, i + 1, close - 1, functions, false);
      if (pipe.cmds.length === 0) throw parseError(text, token.pos, 'missing value for parenthesized pipeline');
      operand = { kind: 'pipe', pos: token.pos, text: text.slice(token.pos, tokens[close - 1]!.end), pipe, names: [] };
      next = close;
      break;
    }
    default:
      throw parseError(text, token.pos, `unexpected "${token.value}" in operand`);
  }
  // A field token touching the operand before it continues its chain.
  while (next < to && tokens[next]!.type === 'field' && tokens[next]!.pos === tokens[next - 1]!.end && tokens[next]!.value !== '.') {
    if (operand.kind === 'function' || operand.kind === 'literal')
      throw parseError(text, tokens[next]!.pos, `unexpected . after term "${operand.text}"`);
    const chained = operand as Operand & { names: string[] };
    chained.names = [...chained.names, tokens[next]!.value.slice(1)];
    chained.text = text.slice(operand.pos, tokens[next]!.end);
    next++;
  }
  return [operand, next];
}

function unquote(text: string, token: Token): string {
  if (token.value.startsWith('`')) return token.value.slice(1, -1);
  try {
    // Go's escapes that JSON lacks (\a \v \x41 \' ) are rare in --format strings; map the common ones.
    const json = token.value
      .replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1')
      .replace(/\\a/g, '\\u0007')
      .replace(/\\v/g, '\\u000b')
      .replace(/\\'/g, "'");
    return JSON.parse(json) as string;
  } catch {
    throw parseError(text, token.pos, `invalid syntax: ${token.value}`);
  }
}

function numberOf(text: string, token: Token): number {
  if (token.value.startsWith("'")) return unquote(text, { ...token, value: `"${token.value.slice(1, -1)}"` }).codePointAt(0)!;
  const value = Number(token.value.replace(/_/g, ''));
  if (Number.isNaN(value)) throw parseError(text, token.pos, `bad number syntax: "${token.value}"`);
  return value;
}
