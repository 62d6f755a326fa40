import net from 'node:net';
import { StrataError } from '../errors.js';

/** Where a registry named in a reference is reached, and how. */
export interface RegistryEndpoint {
  /** The registry as references name it: `docker.io`, `localhost:5000`. */
  name: string;
  /** Base URL of its API, without `/v2/`: `https://registry-1.docker.io`; an insecure one's is `http://` until chooseScheme has tried HTTPS. */
  origin: string;
  /** HTTPS unchecked, else plain HTTP (src/registry/scheme.ts): only for loopback registries and those the user listed as insecure. */
  insecure: boolean;
}

export interface EndpointOptions {
  /** `--insecure-registry` values: `host`, `host:port`, or an IP range such as `10.0.0.0/8`. */
  insecureRegistries?: readonly string[];
}

/** Docker Hub's API lives on another host than the one references name. */
const HUB_NAME = 'docker.io';
const HUB_API = 'registry-1.docker.io';

export function registryEndpoint(name: string, options: EndpointOptions = {}): RegistryEndpoint {
  const apiHost = name === HUB_NAME ? HUB_API : name;
  const insecure = name !== HUB_NAME && (isLoopback(hostOf(name)) || listedInsecure(name, options.insecureRegistries ?? []));
  return { name, origin: `${insecure ? 'http' : 'https'}://${apiHost}`, insecure };
}

/** The host of `host[:port]`, brackets of an IPv6 literal removed. */
export function hostOf(hostPort: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hostPort);
  if (bracketed) return bracketed[1]!;
  const colon = hostPort.lastIndexOf(':');
  return colon > 0 && hostPort.indexOf(':') === colon ? hostPort.slice(0, colon) : hostPort;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return net.isIPv6(host) && (host === '::1' || /^::ffff:127\./i.test(host));
}

function listedInsecure(name: string, listed: readonly string[]): boolean {
  const host = hostOf(name);
  return listed.some((entry) => {
    if (entry === name || entry === host) return true;
    const [range, bits] = entry.split('/');
    if (bits === undefined || !net.isIP(range ?? '') || !net.isIP(host)) return false;
    const family = net.isIPv4(range!) ? 'ipv4' : 'ipv6';
    const list = new net.BlockList();
    list.addSubnet(range!, Number(bits), family);
    return net.isIPv4(host) === (family === 'ipv4') && list.check(host, family);
  });
}

/** Checks `--insecure-registry` values as Docker takes them: a host, host:port or CIDR, no scheme. */
export function parseInsecureRegistries(values: readonly string[]): string[] {
  return values
    .map((v) => v.trim())
    .filter((v) => v !== '')
    .map((v) => {
      if (/^[a-z]+:\/\//i.test(v)) throw new StrataError('EUSAGE', `insecure registry ${v} should not contain '://'`);
      return v.replace(/\/$/, '');
    });
}
