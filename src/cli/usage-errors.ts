import type { Command, CommanderError } from 'commander';

/**
 * commander's parse errors in docker/cli's words and exit codes: a bad flag is
 * `unknown flag: --x` and exit 125 (Docker's status for its own flag errors); a wrong
 * number of arguments is `"strata rm" requires at least 1 argument.` and exit 1; each
 * followed by `See 'strata rm --help'.` instead of the whole help text.
 */
export interface UsageErrorReport {
  lines: string[];
  exitCode: number;
}

export const FLAG_ERROR_EXIT = 125;

export function usageErrorReport(err: CommanderError, command: Command): UsageErrorReport {
  const path = commandPath(command);
  const see = `See '${path} --help'.`;
  const quoted = (re: RegExp) => re.exec(err.message)?.[1] ?? '';
  switch (err.code) {
    case 'commander.unknownOption':
      return { lines: [unknownFlag(quoted(/unknown option '([^']*)'/)), see], exitCode: FLAG_ERROR_EXIT };
    case 'commander.optionMissingArgument':
      return {
        lines: [`flag needs an argument: ${flagName(quoted(/option '([^']*)' argument missing/))}`, see],
        exitCode: FLAG_ERROR_EXIT,
      };
    case 'commander.invalidArgument':
      return { lines: [invalidFlagValue(err.message), see], exitCode: FLAG_ERROR_EXIT };
    case 'commander.missingArgument':
    case 'commander.excessArguments':
      return { lines: [argumentCountText(path, command), see], exitCode: 1 };
    case 'commander.unknownCommand':
      return {
        lines: [`${path}: '${quoted(/unknown command '([^']*)'/)}' is not a ${path} command.`, `See '${path} --help'`],
        exitCode: 1,
      };
    default:
      return { lines: [err.message.replace(/^error: /, ''), see], exitCode: 1 };
  }
}

/** pflag's wording: `unknown flag: --bogus`, `unknown shorthand flag: 'z' in -z`. */
function unknownFlag(flag: string): string {
  if (flag.startsWith('--')) return `unknown flag: ${flag.split('=')[0]}`;
  return `unknown shorthand flag: '${flag.slice(1, 2)}' in ${flag}`;
}

/**
 * pflag's `invalid argument "x" for "-f, --filter" flag: REASON` from commander's
 * `option '-f, --filter <filter>' argument 'x' is invalid. REASON`.
 */
function invalidFlagValue(message: string): string {
  const text = message.replace(/^error: /, '');
  const m = /^option '([^']*)' argument '(.*)' is invalid\. (.*)$/s.exec(text);
  if (!m) return text;
  const flags = m[1]!.replace(/\s*[<[].*$/, '');
  return `invalid argument ${JSON.stringify(m[2])} for ${JSON.stringify(flags)} flag: ${m[3]}`;
}

/** `-n, --name <name>` → `--name`, as pflag names the flag. */
function flagName(flags: string): string {
  return flags.split(/[ ,|]+/).find((f) => f.startsWith('--')) ?? flags.split(/[ ,|]+/)[0] ?? flags;
}

/** docker/cli's cli.ExactArgs, RequiresMinArgs, RequiresMaxArgs and RequiresRangeArgs texts. */
function argumentCountText(path: string, command: Command): string {
  const args = command.registeredArguments;
  const min = args.filter((a) => a.required).length;
  const max = args.some((a) => a.variadic) ? Infinity : args.length;
  const word = (n: number) => (n === 1 ? 'argument' : 'arguments');
  if (max === 0) return `"${path}" accepts no arguments.`;
  if (min === max) return `"${path}" requires exactly ${min} ${word(min)}.`;
  if (max === Infinity) return `"${path}" requires at least ${min} ${word(min)}.`;
  if (min === 0) return `"${path}" accepts at most ${max} ${word(max)}.`;
  return `"${path}" requires at least ${min} and at most ${max} ${word(max)}.`;
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Remembers the command commander is parsing, so an error can name it: every
 * command with subcommands reports which one it hands the arguments to.
 */
export function trackParsedCommand(program: Command): () => Command {
  let current = program;
  const watch = (command: Command) => {
    if (command.commands.length === 0) return;
    command.hook('preSubcommand', (_parent, sub) => {
      current = sub;
    });
    command.commands.forEach(watch);
  };
  watch(program);
  return () => current;
}
