import test from 'ava';
import { downloadStatus } from '../../src/cli/pull-progress.js';

test('a layer bar says Downloading until its last byte, then Extracting until the layer is stored', (t) => {
  t.is(downloadStatus(0, 10_600_000), 'Downloading');
  t.is(downloadStatus(10_599_999, 10_600_000), 'Downloading');
  t.is(downloadStatus(10_600_000, 10_600_000), 'Extracting');
});
