import test from 'ava';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { CommanderError, type Command } from 'commander';
import { createProgram } from '../../src/cli/main.js';
import { strataVersion } from '../../src/cli/version.js';
import { strata } from '../helpers/cli.js';

function everyCommand(command: Command): Command[] {
  return [command, ...command.commands.flatMap(everyCommand)];
}

function pathOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

test('every command, argument and option says in --help what it is', (t) => {
  const program = createProgram({ stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough() });
  const undescribed: string[] = [];
  for (const command of everyCommand(program)) {
    const where = pathOf(command);
    if (command.description() === '') undescribed.push(`${where}: the command`);
    for (const arg of command.registeredArguments) if (arg.description === '') undescribed.push(`${where}: argument <${arg.name()}>`);
    for (const option of command.options) if (option.description === '') undescribed.push(`${where}: option ${option.flags}`);
  }
  t.true(everyCommand(program).length > 40, 'the walk reaches the subcommands');
  t.deepEqual(undescribed, []);
});

test('no help text shows the empty default of a repeatable flag ("(default: [])"), as Docker shows none', (t) => {
  const program = createProgram({ stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough() });
  const shown = everyCommand(program).filter((c) => c.helpInformation().includes('(default: [])'));
  t.deepEqual(shown.map(pathOf), []);
  const commit = everyCommand(program).find((c) => pathOf(c) === 'strata commit')!;
  t.regex(commit.helpInformation(), /-c, --change <instruction> +apply a Dockerfile instruction/);
  t.regex(commit.helpInformation(), /\(default: "gzip"\)/, 'other defaults are still shown');
});

const quietIO = () => ({ stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough() });

/** What commander prints for `args` when the whole tree is built, as every call built it before start-up was cut. */
async function wholeTreeOutput(args: string[]): Promise<string> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  const program = createProgram({ ...quietIO(), stdout });
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    // --help ends the parse with exit code 0.
    if (!(err instanceof CommanderError) || err.exitCode !== 0) throw err;
  }
  return Buffer.concat(chunks).toString();
}

const everyPath = everyCommand(createProgram(quietIO())).map((c) => pathOf(c).split(' ').slice(1));

test('`strata PATH --help` and `strata help PATH` print what the whole command tree prints, for every command', async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-help-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  t.true(everyPath.length > 40, 'every command, nested ones too');
  for (const words of everyPath) {
    const expected = await wholeTreeOutput([...words, '--help']);
    t.true(expected.startsWith(`Usage: ${['strata', ...words].join(' ')}`), words.join(' '));
    t.deepEqual(await strata(root, [...words, '--help']), { code: 0, stdout: expected, stderr: '' }, `${words.join(' ')} --help`);
    // commander's `help` takes one name: `help image load` is the help of `image`.
    const viaHelp = await wholeTreeOutput(['help', ...words]);
    t.deepEqual(await strata(root, ['help', ...words]), { code: 0, stdout: viaHelp, stderr: '' }, `help ${words.join(' ')}`);
  }
});

test('`strata --help` lists every top-level command, also after --debug or --root=DIR', async (t) => {
  const expected = await wholeTreeOutput(['--help']);
  const topLevel = createProgram(quietIO()).commands.map((c) => c.name());
  for (const name of topLevel) t.regex(expected, new RegExp(`\\n  ${name}[ |]`), name);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-help-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  t.is((await strata(root, ['--help'])).stdout, expected);
  t.is((await strata(root, ['--debug', '-h'])).stdout, expected);
  t.is((await strata(root, ['--root', root, '--help'])).stdout, expected);
  t.is((await strata(root, [`--root=${root}`, 'help'])).stdout, expected);
});

test('unknown commands and options before a command fail as they did with the whole tree built', async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-help-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  const cases: [string[], number, string][] = [
    [['imagez'], 1, "strata: 'imagez' is not a strata command.\nSee 'strata --help'\n"],
    [['--debug', 'frobnicate', 'images'], 1, "strata: 'frobnicate' is not a strata command.\nSee 'strata --help'\n"],
    [['image', 'lz'], 1, "strata image: 'lz' is not a strata image command.\nSee 'strata image --help'\n"],
    [['system', 'frob'], 1, "strata system: 'frob' is not a strata system command.\nSee 'strata system --help'\n"],
    [['--bogus', 'images'], 125, "unknown flag: --bogus\nSee 'strata --help'.\n"],
    [['images', '--bogus'], 125, "unknown flag: --bogus\nSee 'strata images --help'.\n"],
  ];
  for (const [args, code, stderr] of cases) {
    t.deepEqual(await strata(root, args), { code, stdout: '', stderr }, args.join(' '));
  }
  t.deepEqual(await strata(root, ['--version', 'images']), { code: 0, stdout: `strata version ${strataVersion()}\n`, stderr: '' });
});

test('a command line builds only the commands that can parse it', (t) => {
  const names = (argv: string[]) => createProgram(quietIO(), argv).commands.map((c) => c.name());
  t.deepEqual(names(['--root', '/x', 'images', '-q']), ['image', 'load', 'images', 'history', 'tag', 'rmi']);
  t.deepEqual(names(['--debug', 'inspect', 'demo']), ['inspect', 'container']);
  t.deepEqual(names(['--version']), []);
  t.deepEqual(names(['frobnicate']), names([]), 'an unknown name builds everything, for the error and help');
  // `image` gets subcommands from several files; every one of them is built for it.
  const image = (argv: string[]) =>
    createProgram(quietIO(), argv)
      .commands.find((c) => c.name() === 'image')!
      .commands.map((c) => c.name());
  t.deepEqual(image(['image', 'ls']), image([]));
});
