/**
 * Not a test file: rootless.test.ts runs this as an unprivileged user to unpack one
 * layer tar into a store and print the committed record as JSON.
 * Usage: node fixtures-rootless.js <store-root> <layer.tar> <diffID>
 */
import fs from 'node:fs';
import { openStore } from '../../src/store/root.js';
import { prepareLayer } from '../../src/layer/unpack.js';

const [root, tarFile, diffId] = process.argv.slice(2);
if (!root || !tarFile || !diffId) {
  process.stderr.write('usage: fixtures-rootless.js <store-root> <layer.tar> <diffID>\n');
  process.exit(2);
}
const store = await openStore({ root, whiteoutFormat: 'oci' });
const prepared = await prepareLayer(fs.createReadStream(tarFile), { store, diffId, chainId: diffId, parent: null, source: 'rootless.tar' });
const record = await prepared.commit(`sha256:${'e'.repeat(64)}`);
process.stdout.write(JSON.stringify({ uid: process.getuid?.(), record }));
