import fs from 'node:fs/promises';
import path from 'node:path';
import { strataProcess } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { repoRoot } from '../helpers/cli.js';
import { basicRegistrySkipReason, skopeoSkipReason, startRegistry, tokenRegistrySkipReason } from '../helpers/registry.js';

const skopeo = await skopeoSkipReason();
const withBasic = testUnless(firstReason(await basicRegistrySkipReason(), skopeo));
const withToken = testUnless(firstReason(await tokenRegistrySkipReason(), skopeo));
const DEMO = path.join(repoRoot, 'fixtures', 'demo.tar');

withBasic('login keeps the credentials in Docker’s config.json (0600), pull and push use them, logout removes them', async (t) => {
  const registry = await startRegistry(t, 'basic');
  const { dir } = await tmpStore(t);
  const root = path.join(dir, 'store');
  const env = { DOCKER_CONFIG: path.join(dir, 'docker') };
  // Docker keeps what it does not know about; so does strata.
  await fs.mkdir(env.DOCKER_CONFIG);
  await fs.writeFile(path.join(env.DOCKER_CONFIG, 'config.json'), '{"psFormat":"table {{.ID}}"}');
  const login = await strataProcess(root, ['login', '-u', registry.username, '--password-stdin', registry.host], {
    stdin: Buffer.from(`${registry.password}\n`),
    env,
  });
  const file = path.join(env.DOCKER_CONFIG, 'config.json');
  t.deepEqual(
    [login.code, login.stdout, login.stderr],
    [0, 'Login Succeeded\n', `WARNING! Your password will be stored unencrypted in ${file}.\n`],
  );
  t.is((await fs.stat(file)).mode & 0o777, 0o600);
  t.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')), {
    psFormat: 'table {{.ID}}',
    auths: { [registry.host]: { auth: Buffer.from(`${registry.username}:${registry.password}`).toString('base64') } },
  });
  t.is((await strataProcess(root, ['load', '-q', '-i', DEMO], { env })).code, 0);
  t.is((await strataProcess(root, ['tag', 'demo:latest', `${registry.host}/demo:1`], { env })).code, 0);
  const push = await strataProcess(root, ['push', '-q', `${registry.host}/demo:1`], { env });
  t.deepEqual([push.code, push.stdout, push.stderr], [0, `${registry.host}/demo:1\n`, '']);
  const pull = await strataProcess(path.join(dir, 'other'), ['pull', '-q', `${registry.host}/demo:1`], { env });
  t.deepEqual([pull.code, pull.stdout, pull.stderr], [0, `${registry.host}/demo:1\n`, '']);

  const logout = await strataProcess(root, ['logout', registry.host], { env });
  t.deepEqual([logout.code, logout.stdout], [0, `Removing login credentials for ${registry.host}\n`]);
  t.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')), { psFormat: 'table {{.ID}}', auths: {} });
  t.is((await strataProcess(root, ['logout', registry.host], { env })).stdout, `Not logged in to ${registry.host}\n`);
  const refused = await strataProcess(path.join(dir, 'third'), ['pull', '-q', `${registry.host}/demo:1`], { env });
  t.deepEqual(
    [refused.code, refused.stderr],
    [
      1,
      `strata: manifest for ${registry.host}/demo:1: access denied, the repository does not exist or needs 'strata login': unauthorized: authentication required\n`,
    ],
  );
});

withBasic('a wrong password is one line, exit 1, and nothing is written', async (t) => {
  const registry = await startRegistry(t, 'basic');
  const { dir } = await tmpStore(t);
  const env = { DOCKER_CONFIG: path.join(dir, 'docker') };
  const login = await strataProcess(path.join(dir, 'store'), ['login', '-u', registry.username, '-p', 'wrong', registry.host], { env });
  t.deepEqual(
    [login.code, login.stdout, login.stderr],
    [
      1,
      '',
      `WARNING! Using --password via the CLI is insecure. Use --password-stdin.\nstrata: ${registry.host}: unauthorized: incorrect username or password\n`,
    ],
  );
  await t.throwsAsync(fs.stat(env.DOCKER_CONFIG), { code: 'ENOENT' });
});

withToken('login against a token server, and a credential helper that config.json names stores the secret', async (t) => {
  const registry = await startRegistry(t, 'token');
  const { dir } = await tmpStore(t);
  const bin = path.join(dir, 'bin');
  await fs.mkdir(bin);
  // A credential helper as Docker's protocol defines it: get/store/erase, JSON on stdin and stdout.
  const secrets = path.join(dir, 'secrets.json');
  await fs.writeFile(
    path.join(bin, 'docker-credential-testhelper'),
    `#!/bin/sh\ncase "$1" in\n  store) cat > ${secrets} ;;\n  get) cat > /dev/null; if [ -f ${secrets} ]; then cat ${secrets}; else echo "credentials not found in native keychain"; exit 1; fi ;;\n  erase) rm -f ${secrets} ;;\nesac\n`,
    { mode: 0o755 },
  );
  const env = { DOCKER_CONFIG: path.join(dir, 'docker'), PATH: `${bin}:${process.env.PATH}` };
  await fs.mkdir(env.DOCKER_CONFIG);
  await fs.writeFile(path.join(env.DOCKER_CONFIG, 'config.json'), '{"credsStore":"testhelper"}');
  const root = path.join(dir, 'store');
  const login = await strataProcess(root, ['login', '-u', registry.username, '--password-stdin', registry.host], {
    stdin: Buffer.from(registry.password),
    env,
  });
  t.deepEqual([login.code, login.stdout, login.stderr], [0, 'Login Succeeded\n', '']);
  t.deepEqual(JSON.parse(await fs.readFile(secrets, 'utf8')), {
    ServerURL: registry.host,
    Username: registry.username,
    Secret: registry.password,
  });
  t.deepEqual(JSON.parse(await fs.readFile(path.join(env.DOCKER_CONFIG, 'config.json'), 'utf8')), {
    credsStore: 'testhelper',
    auths: { [registry.host]: {} },
  });
  t.is((await strataProcess(root, ['load', '-q', '-i', DEMO], { env })).code, 0);
  t.is((await strataProcess(root, ['tag', 'demo:latest', `${registry.host}/demo:1`], { env })).code, 0);
  const push = await strataProcess(root, ['push', '-q', `${registry.host}/demo:1`], { env });
  t.deepEqual([push.code, push.stderr], [0, '']);
  t.true(registry.tokens!.issued.some((i) => i.user === registry.username && i.scope.join() === 'repository:demo:pull,push'));
});
