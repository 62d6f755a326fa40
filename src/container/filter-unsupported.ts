import { StrataError } from '../errors.js';
import { invalidFilter, type FilterArgs } from '../filter-args.js';

/** `ps --filter` keys for what a strata container never has: a network, ports, a healthcheck, a swarm task, an isolation mode. */
export const ABSENT_FEATURE_KEYS = ['network', 'publish', 'expose', 'health', 'is-task', 'isolation'] as const;

const HEALTH_STATES = ['starting', 'healthy', 'unhealthy', 'none'];

/**
 * Whether these filters rule out every container. strata containers have no network,
 * no published or exposed port and no healthcheck, are no swarm task, and on Linux
 * Docker ignores `isolation`: each key is answered as the daemon answers for such a
 * container (moby daemon/list.go), after the same checks of its values, so a script
 * written for Docker gets Docker's result or Docker's error rather than `Invalid filter`.
 */
export function absentFeaturesExcludeAll(filters: FilterArgs): boolean {
  let excludeAll = false;
  if (filters.contains('is-task')) {
    if (filters.exactMatch('is-task', 'true')) excludeAll = true;
    else if (!filters.exactMatch('is-task', 'false')) throw invalidFilter('is-task', filters.get('is-task'));
  }
  for (const value of filters.get('health')) {
    if (!HEALTH_STATES.includes(value)) throw new StrataError('EUSAGE', `Unrecognised filter value for health: ${value}`, { path: value });
  }
  // With no healthcheck, Docker's health is `none`.
  if (!filters.exactMatch('health', 'none')) excludeAll = true;
  if (filters.contains('network')) excludeAll = true;
  for (const key of ['publish', 'expose']) {
    // A valid port or range names at least one port, and no strata container has one.
    for (const value of filters.get(key)) {
      checkPortFilter(key, value);
      excludeAll = true;
    }
  }
  return excludeAll;
}

/** go-connections/nat's port[-port][/proto], with the daemon's wording for what it refuses. */
function checkPortFilter(key: string, value: string): void {
  if (value.includes(':')) throw new StrataError('EUSAGE', `filter for '${key}' should not contain ':': ${value}`, { path: value });
  const port = value === '' || value.startsWith('/') ? '' : value.split('/')[0]!;
  const why = portRangeError(port);
  if (why !== null) throw new StrataError('EUSAGE', `error while looking up for ${key} ${value}: ${why}`, { path: value });
}

function portRangeError(ports: string): string | null {
  if (ports === '') return 'Empty string specified for ports.';
  const parts = ports.split('-');
  const numbers: number[] = [];
  for (const part of ports.includes('-') ? parts.slice(0, 2) : [ports]) {
    if (!/^[0-9]+$/.test(part)) return `strconv.ParseUint: parsing ${JSON.stringify(part)}: invalid syntax`;
    if (Number(part) > 65535) return `strconv.ParseUint: parsing ${JSON.stringify(part)}: value out of range`;
    numbers.push(Number(part));
  }
  if (numbers.length === 2 && numbers[1]! < numbers[0]!) return `Invalid range specified for the Port: ${ports}`;
  return null;
}
