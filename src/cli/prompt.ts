import type { Writable } from 'node:stream';
import { StrataError } from '../errors.js';

/** stdin as a terminal exposes it (node's tty.ReadStream). */
type TerminalInput = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** Whether `input` is a terminal a prompt can be typed into. */
export function isTerminal(input: NodeJS.ReadableStream): boolean {
  const terminal = input as TerminalInput;
  return terminal.isTTY === true && typeof terminal.setRawMode === 'function';
}

/**
 * Asks on a terminal and reads one line, the terminal in raw mode for the time of it:
 * typed characters are echoed only when `echo` (never a password's), backspace
 * erases, Enter ends the line, Ctrl-C is an interrupt and Ctrl-D on an empty line an
 * empty answer. As Docker, a hidden answer is followed by a newline of our own.
 */
export function promptLine(input: NodeJS.ReadableStream, output: Writable, question: string, echo: boolean): Promise<string> {
  const terminal = input as TerminalInput;
  // Raw mode before the question: an answer typed as soon as it shows must not be echoed by the terminal too.
  terminal.setRawMode!(true);
  output.write(question);
  terminal.resume();
  return new Promise((resolve, reject) => {
    let answer = '';
    const done = (err: Error | null) => {
      terminal.removeListener('data', onData);
      terminal.setRawMode!(false);
      terminal.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(answer);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString()) {
        if (char === '\r' || char === '\n' || (char === '\u0004' && answer === '')) return done(null);
        if (char === '\u0003') return done(new StrataError('EINTERRUPTED', 'login interrupted'));
        if (char === '\u007f' || char === '\b') {
          if (answer === '') continue;
          answer = [...answer].slice(0, -1).join('');
          if (echo) output.write('\b \b');
        } else if (char >= ' ') {
          answer += char;
          if (echo) output.write(char);
        }
      }
    };
    terminal.on('data', onData);
  });
}
