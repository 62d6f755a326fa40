import fs from 'node:fs';
import path from 'node:path';
import { StrataError } from '../errors.js';
import type { MountSpec } from './record.js';
import { anonymousVolumeName } from '../volume/volume.js';

/**
 * One `--mount` flag as Docker's HostConfig.Mounts lists it (docker/api mount.Mount):
 * empty fields are left out, as Go's `omitempty` leaves them out.
 */
export interface HostConfigMount {
  Type: string;
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

const PROPAGATIONS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);

/**
 * Docker's `--mount` grammar (docker/cli opts/mount.go): comma-separated key=value
 * fields, read as one CSV record so a value may be quoted. Errors are the flag
 * errors Docker prints: `invalid argument "SPEC" for "--mount" flag: REASON`.
 */
export function parseMountFlag(spec: string): HostConfigMount {
  // Go's csv reader finds no record in an empty string.
  if (spec === '') throw flagError(spec, 'EOF');
  const mount: HostConfigMount = { Type: 'volume', Target: '' };
  const volumeOptions = () => (mount.VolumeOptions ??= { Labels: {}, DriverConfig: {} });
  const bindOptions = () => (mount.BindOptions ??= {});
  const tmpfsOptions = () => (mount.TmpfsOptions ??= {});
  for (const field of csvFields(spec)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') {
        mount.ReadOnly = true;
        continue;
      }
      if (key === 'volume-nocopy') {
        volumeOptions().NoCopy = true;
        continue;
      }
      if (key === 'bind-nonrecursive') {
        bindOptions().NonRecursive = true;
        continue;
      }
      throw flagError(spec, `invalid field '${field}' must be a key=value pair`);
    }
    const value = field.slice(eq + 1);
    switch (key) {
      case 'type':
        mount.Type = value.toLowerCase();
        break;
      case 'source':
      case 'src':
        mount.Source = value === '.' || value.startsWith('./') ? path.resolve(value) : value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.Target = value;
        break;
      case 'readonly':
      case 'ro':
        mount.ReadOnly = parseBool(spec, key, value);
        break;
      case 'consistency':
        mount.Consistency = value.toLowerCase();
        break;
      case 'bind-propagation':
        bindOptions().Propagation = value.toLowerCase();
        break;
      case 'bind-nonrecursive':
        bindOptions().NonRecursive = parseBool(spec, key, value);
        break;
      case 'volume-nocopy':
        volumeOptions().NoCopy = parseBool(spec, key, value);
        break;
      case 'volume-label':
        setKeyValue(volumeOptions().Labels!, value);
        break;
      case 'volume-driver':
        volumeOptions().DriverConfig!.Name = value;
        break;
      case 'volume-opt': {
        const driver = volumeOptions().DriverConfig!;
        driver.Options ??= {};
        setKeyValue(driver.Options, value);
        break;
      }
      case 'tmpfs-size':
        tmpfsOptions().SizeBytes = ramInBytes(spec, key, value);
        break;
      case 'tmpfs-mode':
        tmpfsOptions().Mode = octalMode(spec, key, value);
        break;
      default:
        throw flagError(spec, `unexpected key '${key}' in '${field}'`);
    }
  }
  if (mount.Type === '') throw flagError(spec, 'type is required');
  if (mount.Target === '') throw flagError(spec, 'target is required');
  for (const [options, kind] of [
    [mount.VolumeOptions, 'volume'],
    [mount.BindOptions, 'bind'],
    [mount.TmpfsOptions, 'tmpfs'],
  ] as const) {
    if (options !== undefined && mount.Type !== kind)
      throw flagError(spec, `cannot mix '${kind}-*' options with mount type '${mount.Type}'`);
  }
  // Go's field order, which `inspect` prints, and its omitempty: no false, '' or empty map.
  const { Type, Source, Target, ReadOnly, Consistency, BindOptions, VolumeOptions, TmpfsOptions } = mount;
  // docker/cli makes DriverConfig with any volume-* option, and a pointer to an empty struct prints as {}.
  const volume =
    VolumeOptions &&
    omitEmpty(
      {
        NoCopy: VolumeOptions.NoCopy,
        Labels: VolumeOptions.Labels,
        DriverConfig:
          VolumeOptions.DriverConfig && omitEmpty({ Name: VolumeOptions.DriverConfig.Name, Options: VolumeOptions.DriverConfig.Options }),
      },
      ['DriverConfig'],
    );
  return omitEmpty(
    {
      Type,
      Source,
      Target,
      ReadOnly,
      Consistency,
      BindOptions: BindOptions && omitEmpty({ Propagation: BindOptions.Propagation, NonRecursive: BindOptions.NonRecursive }),
      // Options given only to be false (`volume-nocopy=false`) still make the object, as in Go.
      VolumeOptions: volume,
      TmpfsOptions: TmpfsOptions && omitEmpty({ SizeBytes: TmpfsOptions.SizeBytes, Mode: TmpfsOptions.Mode }),
    },
    ['BindOptions', 'VolumeOptions', 'TmpfsOptions'],
  ) as unknown as HostConfigMount;
}

/** Go's `omitempty`: drop undefined, false, 0, '' and empty maps, except the pointer fields `keep` names. */
function omitEmpty(value: Record<string, unknown>, keep: string[] = []): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(value).filter(([key, v]) => {
      if (v === undefined) return false;
      if (keep.includes(key)) return true;
      if (v === false || v === '' || v === 0) return false;
      return !(typeof v === 'object' && v !== null && Object.keys(v).length === 0);
    }),
  );
}

/**
 * The checks Docker's daemon makes of a --mount (volume/mounts/validate.go), then the
 * MountSpec the view resolves. A bind source must exist: unlike `-v`, `--mount` never
 * creates it.
 */
export function mountSpecOf(mount: HostConfigMount): MountSpec {
  const fail = (reason: string) =>
    new StrataError('EUSAGE', `invalid mount config for type "${mount.Type}": ${reason}`, { path: mount.Target });
  const destination = mountDestination(mount);
  if (destination === '/') throw fail("invalid specification: destination can't be '/'");
  if (!mount.Target.startsWith('/')) throw fail(`invalid mount path: '${mount.Target}' mount path must be absolute`);
  const source = mount.Source ?? '';
  const readOnly = mount.ReadOnly === true;
  switch (mount.Type) {
    case 'bind': {
      if (source === '') throw fail('field Source must not be empty');
      if (!source.startsWith('/')) throw fail(`invalid mount path: '${source}' mount path must be absolute`);
      const propagation = mount.BindOptions?.Propagation;
      if (propagation !== undefined && propagation !== '' && !PROPAGATIONS.has(propagation))
        throw fail(`invalid propagation mode: ${propagation}`);
      if (!fs.existsSync(source)) throw fail(`bind source path does not exist: ${source}`);
      return { type: 'bind', source: path.resolve(source), destination, readOnly };
    }
    case 'volume':
      if (source === '' && readOnly) throw fail('must not set ReadOnly mode when using anonymous volumes');
      if (mount.VolumeOptions?.DriverConfig?.Name !== undefined && mount.VolumeOptions.DriverConfig.Name !== 'local') {
        throw fail(`volume driver ${mount.VolumeOptions.DriverConfig.Name} is not supported: strata has the local driver only`);
      }
      return {
        ...(source === ''
          ? { type: 'volume', name: anonymousVolumeName(), destination, readOnly: false, anonymous: true }
          : { type: 'volume', name: source, destination, readOnly, anonymous: false }),
        ...(mount.VolumeOptions?.NoCopy ? { noCopy: true } : {}),
      };
    case 'tmpfs': {
      if (source !== '') throw fail('field Source must not be specified');
      const options = tmpfsOptionsText(mount);
      return options === '' ? { type: 'tmpfs', destination } : { type: 'tmpfs', destination, options };
    }
    default:
      throw fail('mount type unknown');
  }
}

/** pflag's words for a bad flag value (Go's %q quoting, which JSON's matches for text). */
/**
 * A tmpfs --mount's size, mode and read-only flag in the words `--tmpfs PATH:OPTIONS`
 * takes, which is what the view reads (Docker's daemon converts them the same way).
 */
function tmpfsOptionsText(mount: HostConfigMount): string {
  const options: string[] = [];
  if (mount.ReadOnly) options.push('ro');
  if (mount.TmpfsOptions?.SizeBytes) options.push(`size=${mount.TmpfsOptions.SizeBytes}`);
  if (mount.TmpfsOptions?.Mode) options.push(`mode=${(mount.TmpfsOptions.Mode & 0o7777).toString(8)}`);
  return options.join(',');
}

/** Where a --mount lands, normalised as `-v` and `--tmpfs` destinations are. */
export function mountDestination(mount: HostConfigMount): string {
  return path.posix.normalize(mount.Target).replace(/(.)\/+$/, '$1');
}

function flagError(spec: string, reason: string): StrataError {
  return new StrataError('EUSAGE', `invalid argument ${JSON.stringify(spec)} for "--mount" flag: ${reason}`, { path: spec });
}

/** Go's strconv.ParseBool. */
function parseBool(spec: string, key: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw flagError(spec, `invalid value for ${key}: ${value}`);
}

function setKeyValue(target: Record<string, string>, value: string): void {
  const eq = value.indexOf('=');
  if (eq < 0) target[value] = '';
  else target[value.slice(0, eq)] = value.slice(eq + 1);
}

/** go-units RAMInBytes: a number with an optional binary unit (k, m, g… with optional b/ib), case-insensitive. */
function ramInBytes(spec: string, key: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?) ?([kmgtp])?(i?b)?$/i.exec(value);
  if (!match) throw flagError(spec, `invalid value for ${key}: ${value}`);
  const power = match[2] === undefined ? 0 : 'kmgtp'.indexOf(match[2].toLowerCase()) + 1;
  return Math.trunc(Number(match[1]) * 1024 ** power);
}

/** strconv.ParseUint(value, 8, 32). */
function octalMode(spec: string, key: string, value: string): number {
  if (!/^[0-7]+$/.test(value) || parseInt(value, 8) > 0xffffffff) throw flagError(spec, `invalid value for ${key}: ${value}`);
  return parseInt(value, 8);
}

/** One record of Go's encoding/csv: fields split at commas, a field in double quotes may hold commas and "" for a quote. */
function csvFields(spec: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (spec[i] === '"') {
      i++;
      for (;;) {
        if (i >= spec.length)
          throw flagError(spec, `parse error on line 1, column ${spec.length + 1}: extraneous or missing " in quoted-field`);
        if (spec[i] === '"') {
          if (spec[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += spec[i++];
      }
      if (i < spec.length && spec[i] !== ',')
        throw flagError(spec, `parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
    } else {
      const comma = spec.indexOf(',', i);
      field = spec.slice(i, comma < 0 ? spec.length : comma);
      if (field.includes('"'))
        throw flagError(spec, `parse error on line 1, column ${i + field.indexOf('"') + 1}: bare " in non-quoted-field`);
      i = comma < 0 ? spec.length : comma;
    }
    fields.push(field);
    if (i >= spec.length) return fields;
    i++; // the comma
  }
}
