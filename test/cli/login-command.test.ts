import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { strataProcess } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { repoRoot } from '../helpers/cli.js';
import { commandSkipReason } from '../helpers/tools.js';
import { basicRegistrySkipReason, skopeoSkipReason, startRegistry, tokenRegistrySkipReason } from '../helpers/registry.js';

const skopeo = await skopeoSkipReason();
const withBasic = testUnless(firstReason(await basicRegistrySkipReason(), skopeo));
const withToken = testUnless(firstReason(await tokenRegistrySkipReason(), skopeo));
const DEMO = path.join(repoRoot, 'fixtures', 'demo.tar');
/** `script` (util-linux) runs a command on a pseudo-terminal: how a user at a terminal is simulated without native modules. */
const scriptSkip = await commandSkipReason(
  'script',
  ['--version'],
  'script (util-linux) is not installed: no pseudo-terminal to type into',
);
const basic = await basicRegistrySkipReason();

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

/**
 * Runs `strata ARGS` on a pseudo-terminal and types each answer once its prompt has
 * appeared (not before: the terminal would echo what arrives while it is not raw yet).
 */
function onTerminal(root: string, args: string[], env: NodeJS.ProcessEnv, answers: [prompt: string, typed: string][]) {
  const command = [process.execPath, path.join(repoRoot, 'bin', 'strata.js'), '--root', root, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  const pending = [...answers];
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
    const next = pending[0];
    if (next && screen.endsWith(next[0])) {
      pending.shift();
      child.stdin.write(next[1]);
    }
  });
  return new Promise<{ code: number | null; screen: string }>((resolve) =>
    child.on('close', (code) => {
      child.stdin.destroy();
      resolve({ code, screen });
    }),
  );
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

testUnless(firstReason(basic, scriptSkip))(
  'on a terminal, login asks for the username and for the password without echoing it',
  async (t) => {
    const registry = await startRegistry(t, 'basic');
    const { dir } = await tmpStore(t);
    const env = { DOCKER_CONFIG: path.join(dir, 'docker') };
    const root = path.join(dir, 'store');
    const asked = await onTerminal(root, ['login', registry.host], env, [
      ['Username: ', `${registry.username}\r`],
      ['Password: ', `${registry.password}\r`],
    ]);
    t.is(asked.code, 0, asked.screen);
    t.regex(asked.screen, new RegExp(`^Username: ${registry.username}\\r?\\nPassword: \\r?\\n`));
    t.false(asked.screen.includes(registry.password), 'the password was not echoed');
    t.regex(asked.screen, /Login Succeeded\r?\n$/);
    const file = path.join(env.DOCKER_CONFIG, 'config.json');
    t.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')), {
      auths: { [registry.host]: { auth: Buffer.from(`${registry.username}:${registry.password}`).toString('base64') } },
    });
    // With -u, only the password is asked for; a wrong one is refused as with --password-stdin.
    const wrong = await onTerminal(root, ['login', '-u', registry.username, registry.host], env, [['Password: ', 'nope\r']]);
    t.is(wrong.code, 1);
    t.regex(wrong.screen, /^Password: \r?\nstrata: .*unauthorized: incorrect username or password\r?\n$/);
  },
);

testUnless(basic)('without a terminal, a login that would have to ask is refused as Docker refuses it', async (t) => {
  const registry = await startRegistry(t, 'basic');
  const { dir } = await tmpStore(t);
  const env = { DOCKER_CONFIG: path.join(dir, 'docker') };
  for (const args of [
    ['login', registry.host],
    ['login', '-u', registry.username, registry.host],
  ]) {
    const refused = await strataProcess(path.join(dir, 'store'), args, { env, stdin: Buffer.from(`${registry.password}\n`) });
    t.deepEqual(
      [refused.code, refused.stdout, refused.stderr],
      [1, '', 'strata: Cannot perform an interactive login from a non TTY device\n'],
    );
  }
  await t.throwsAsync(fs.stat(env.DOCKER_CONFIG), { code: 'ENOENT' });
});

withToken('a per-registry credHelpers entry is used before credsStore, as Docker uses it', async (t) => {
  const registry = await startRegistry(t, 'token');
  const { dir } = await tmpStore(t);
  const bin = path.join(dir, 'bin');
  await fs.mkdir(bin);
  const asked = path.join(dir, 'asked');
  // A helper that knows this registry's credentials and notes what it was asked for.
  await fs.writeFile(
    path.join(bin, 'docker-credential-perhost'),
    `#!/bin/sh\n[ "$1" = get ] || exit 1\ncat >> ${asked}\necho '${JSON.stringify({ ServerURL: registry.host, Username: registry.username, Secret: registry.password })}'\n`,
    { mode: 0o755 },
  );
  const env = { DOCKER_CONFIG: path.join(dir, 'docker'), PATH: `${bin}:${process.env.PATH}` };
  await fs.mkdir(env.DOCKER_CONFIG);
  // The store-wide helper does not exist: using it would fail the push.
  await fs.writeFile(
    path.join(env.DOCKER_CONFIG, 'config.json'),
    JSON.stringify({ credsStore: 'absent', credHelpers: { [registry.host]: 'perhost' } }),
  );
  const root = path.join(dir, 'store');
  t.is((await strataProcess(root, ['load', '-q', '-i', DEMO], { env })).code, 0);
  t.is((await strataProcess(root, ['tag', 'demo:latest', `${registry.host}/demo:1`], { env })).code, 0);
  const push = await strataProcess(root, ['push', '-q', `${registry.host}/demo:1`], { env });
  t.deepEqual([push.code, push.stdout, push.stderr], [0, `${registry.host}/demo:1\n`, '']);
  t.is((await fs.readFile(asked, 'utf8')).trim(), registry.host);
  t.true(
    registry.tokens!.issued.some((i) => i.user === registry.username),
    'the token server saw the helper’s credentials',
  );
});
