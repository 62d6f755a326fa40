import { InvalidArgumentError } from 'commander';
import { FilterArgs } from '../filter-args.js';

/**
 * The `-f, --filter` option value, read as docker/cli's FilterOpt reads it: every
 * flag adds one `key=value` (the key lower-cased, both sides trimmed); an empty
 * value adds nothing; a value without `=` is a flag error. commander hands the
 * short form `-f=name=web` over with its leading `=`, which pflag drops: so is it here.
 */
export function collectFilter(given: string, previous: FilterArgs | undefined): FilterArgs {
  const args = previous ?? new FilterArgs();
  const value = given.startsWith('=') ? given.slice(1) : given;
  if (value === '') return args;
  const eq = value.indexOf('=');
  if (eq < 0) throw new InvalidArgumentError('bad format of filter (expected name=value)');
  return args.add(value.slice(0, eq).trim().toLowerCase(), value.slice(eq + 1).trim());
}
