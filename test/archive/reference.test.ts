import test from 'ava';
import { familiarName, normalizeReference, parseReference } from '../../src/archive/reference.js';
import { formatPlatform, normalizePlatform, parsePlatform, platformScore } from '../../src/archive/platform.js';

/**
 * References as archives name them (RepoTags, OCI annotations) and as Docker shows
 * them. Kept beside the archive tests because the archive readers are their first user.
 */
const normal: Array<[string, string, string, string]> = [
  // input, repository, tag, full
  ['docker.io/library/app:1.0', 'app', '1.0', 'docker.io/library/app:1.0'],
  ['app:1.0', 'app', '1.0', 'docker.io/library/app:1.0'],
  ['app', 'app', 'latest', 'docker.io/library/app:latest'],
  ['docker.io/user/app', 'user/app', 'latest', 'docker.io/user/app:latest'],
  ['index.docker.io/user/app:v2', 'user/app', 'v2', 'docker.io/user/app:v2'],
  ['library/app:3', 'app', '3', 'docker.io/library/app:3'],
  ['docker.io/library/a/b:1', 'library/a/b', '1', 'docker.io/library/a/b:1'],
  ['localhost:5000/x', 'localhost:5000/x', 'latest', 'localhost:5000/x:latest'],
  ['localhost/x:1', 'localhost/x', '1', 'localhost/x:1'],
  ['registry.example/ns/app:2', 'registry.example/ns/app', '2', 'registry.example/ns/app:2'],
  ['ghcr.io/o-r_g/a.b__c--d:T_1.x-y', 'ghcr.io/o-r_g/a.b__c--d', 'T_1.x-y', 'ghcr.io/o-r_g/a.b__c--d:T_1.x-y'],
  ['Registry.Example:443/app', 'Registry.Example:443/app', 'latest', 'Registry.Example:443/app:latest'],
];
for (const [input, repository, tag, full] of normal) {
  test(`reference ${input} is ${repository}:${tag}`, (t) => {
    t.deepEqual(normalizeReference(input), { repository, tag, full });
    t.is(familiarName(input), `${repository}:${tag}`);
  });
}

// distribution/reference's words, as Docker prints them.
const FORMAT = /^invalid reference format$/;
const invalid: Array<[string, RegExp]> = [
  ['App:1', /^invalid reference format: repository name must be lowercase$/],
  ['app:', FORMAT],
  ['app:-x', FORMAT],
  [`app:${'t'.repeat(129)}`, FORMAT],
  ['', FORMAT],
  ['a//b', FORMAT],
  ['app_:1', FORMAT],
  ['-app', FORMAT],
  ['app@sha256:abc', FORMAT],
  [`${'a'.repeat(250)}/b`, /^invalid reference format: repository name must not be more than 255 characters$/],
];
for (const [input, message] of invalid) {
  test(`reference ${JSON.stringify(input.slice(0, 40))} is EREFERENCE, named as its path`, (t) => {
    const err = t.throws(() => normalizeReference(input)) as Error & { code: string; path: string };
    t.is(err.code, 'EREFERENCE');
    t.is(err.path, input);
    t.regex(err.message, message);
  });
}

test('a digest reference parses, but is not a tag', (t) => {
  const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
  t.deepEqual(parseReference(`docker.io/library/app@${digest}`), { domain: 'docker.io', path: 'library/app', digest });
  t.is(familiarName(`docker.io/library/app@${digest}`), `app@${digest}`);
  t.is(familiarName(`app:1@${digest}`), `app:1@${digest}`);
  const err = t.throws(() => normalizeReference(`app@${digest}`));
  t.is((err as Error & { code: string }).code, 'EREFERENCE');
  t.regex(err!.message, /a digest reference is not a tag$/);
});

test('platforms parse, normalise and print the way indexes write them', (t) => {
  t.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  t.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  t.deepEqual(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  t.deepEqual(parsePlatform('linux/aarch64'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  t.deepEqual(parsePlatform('Linux/ARM/7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  t.deepEqual(normalizePlatform({ os: 'linux', architecture: 'amd64', variant: 'v1' }), { os: 'linux', architecture: 'amd64' });
  t.is(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v6' }), 'linux/arm/v6');
  for (const bad of ['amd64', 'linux/', 'a/b/c/d', 'linux/am d64']) {
    t.is((t.throws(() => parsePlatform(bad)) as Error & { code: string }).code, 'EUSAGE', bad);
  }
});

test('platform matching: exact beats compatible, ARM runs older variants, nothing crosses OS or CPU', (t) => {
  const want = parsePlatform('linux/arm/v7');
  t.is(platformScore({ os: 'linux', architecture: 'arm', variant: 'v7' }, want), 100);
  t.is(platformScore({ os: 'linux', architecture: 'arm', variant: 'v6' }, want), 99);
  t.is(platformScore({ os: 'linux', architecture: 'arm', variant: 'v8' }, want), 0);
  t.is(platformScore({ os: 'linux', architecture: 'arm' }, want), 100);
  t.is(platformScore({ os: 'linux', architecture: 'arm64' }, parsePlatform('linux/arm64/v8')), 100);
  t.is(platformScore({ os: 'windows', architecture: 'amd64' }, parsePlatform('linux/amd64')), 0);
  t.is(platformScore({ os: 'linux', architecture: 'amd64', variant: 'v3' }, { os: 'linux', architecture: 'amd64' }), 100);
});
