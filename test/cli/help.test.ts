import test from 'ava';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { createProgram } from '../../src/cli/main.js';

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
