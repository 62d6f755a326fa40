import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';
import { firstReason, testUnless } from '../helpers/skip.js';
import { commandSkipReason } from '../helpers/tools.js';
import { conformanceImages, sharedSkipReason } from '../helpers/shared.js';
import { pushWithSkopeo, registrySkipReason, skopeoSkipReason, startRegistry } from '../helpers/registry.js';

/** `script` (util-linux) runs a command on a pseudo-terminal: how a user at a terminal is simulated without native modules. */
const scriptSkip = await commandSkipReason('script', ['--version'], 'script (util-linux) is not installed: no pseudo-terminal to run on');
const maybe = testUnless(firstReason(await registrySkipReason(), await skopeoSkipReason(), sharedSkipReason(), scriptSkip));
const APP = path.join(conformanceImages, 'app.oci.tar');
const BASE = path.join(conformanceImages, 'base.oci.tar');
// app.oci.tar's layers: a 10.6 MB base layer and a small one on top.
const BIG = '569eefd614ca';
const SMALL = '52d0cb720b12';

const STATES = [
  'Already exists',
  'Pulling fs layer',
  'Waiting',
  'Downloading',
  'Verifying Checksum',
  'Download complete',
  'Extracting',
  'Pull complete',
];

/** Runs `strata ARGS` on a 120-column pseudo-terminal; the screen is everything it wrote, escapes and all. */
function onTerminal(root: string, args: string[]): Promise<{ code: number | null; screen: string }> {
  const strata = [process.execPath, path.join(repoRoot, 'bin', 'strata.js'), '--root', root, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qec', `stty cols 120 rows 40; exec ${strata}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
  });
  return new Promise((resolve) =>
    child.on('close', (code) => {
      child.stdin.destroy();
      resolve({ code, screen });
    }),
  );
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The states each layer's line showed, in the order they were drawn (a state drawn
 * again and again counts once): the screen without its escapes, cut where the
 * terminal returns to a line's start.
 */
function statesByLayer(screen: string): Map<string, string[]> {
  const shown = new Map<string, string[]>();
  const line = new RegExp(`^([0-9a-f]{12}): (${STATES.join('|')})`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's escape sequences are what is stripped
  for (const text of screen.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n').split(/[\r\n]+/)) {
    const match = line.exec(text);
    if (!match) continue;
    const states = shown.get(match[1]!) ?? [];
    if (states.at(-1) !== match[2]) states.push(match[2]!);
    shown.set(match[1]!, states);
  }
  return shown;
}

maybe('on a terminal each layer goes through Docker’s states in order, Verifying Checksum and Download complete included', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, APP, 'app:1.0');
  const { dir } = await tmpStore(t);
  // One download at a time: the small layer waits while the big one downloads, as Docker's queued layers do.
  const pulled = await onTerminal(path.join(dir, 'store'), ['pull', '--max-concurrent-downloads', '1', `${registry.host}/app:1.0`]);
  t.is(pulled.code, 0, pulled.screen);
  t.deepEqual(
    Object.fromEntries(statesByLayer(pulled.screen)),
    {
      [BIG]: ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'],
      [SMALL]: ['Pulling fs layer', 'Waiting', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'],
    },
    pulled.screen,
  );
  t.regex(pulled.screen, new RegExp(`${BIG}: Downloading .*█.*/10\\.6MB`), 'a downloading layer has a bar with its size');
  t.regex(pulled.screen, new RegExp(`Status: Downloaded newer image for ${registry.host}/app:1\\.0\\r?\\n`));
});

maybe('on a terminal a layer already stored says "Already exists" and nothing else', async (t) => {
  const registry = await startRegistry(t, 'open');
  await pushWithSkopeo(registry, BASE, 'base:1.0');
  await pushWithSkopeo(registry, APP, 'app:1.0');
  const { dir } = await tmpStore(t);
  const root = path.join(dir, 'store');
  t.is((await onTerminal(root, ['pull', '-q', `${registry.host}/base:1.0`])).code, 0);
  const pulled = await onTerminal(root, ['pull', `${registry.host}/app:1.0`]);
  t.is(pulled.code, 0, pulled.screen);
  const shown = statesByLayer(pulled.screen);
  t.deepEqual(shown.get(BIG), ['Already exists']);
  t.deepEqual(shown.get(SMALL)?.at(-1), 'Pull complete');
});
