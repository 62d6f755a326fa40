import { StrataError } from '../errors.js';

/**
 * A Go boolean flag's value, as docker/cli (pflag, strconv.ParseBool) reads it:
 * `--human=false`, `-H=false`, `-H=0`. commander hands a short option's `=value`
 * over with the `=`, so it is dropped here.
 */
export function parseGoBool(value: string): boolean {
  const text = value.startsWith('=') ? value.slice(1) : value;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  throw new StrataError('EUSAGE', `invalid boolean value ${JSON.stringify(text)}: use true or false`);
}
