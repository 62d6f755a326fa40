import test from 'ava';
import { compareNatural } from '../../src/volume/natural-order.js';
import { strata } from '../helpers/cli.js';
import { tmpStore } from '../helpers/tmp-store.js';

test('names sort as docker volume ls sorts them: numbers by value, digits first, fewer leading zeros first', (t) => {
  const names = ['data10', 'data2', 'data02', 'data', 'Data3', 'data-x', 'data_y', '10', '9', 'a1b2', 'a1b10', 'a01b1'];
  t.deepEqual([...names].sort(compareNatural), [
    '9',
    '10',
    'Data3',
    'a1b2',
    'a1b10',
    'a01b1',
    'data',
    'data2',
    'data02',
    'data10',
    'data-x',
    'data_y',
  ]);
});

test('volume ls lists volumes in that order', async (t) => {
  const { store } = await tmpStore(t);
  for (const name of ['logs10', 'logs2', 'cache', 'logs1']) t.is((await strata(store.paths.root, ['volume', 'create', name])).code, 0);
  t.is((await strata(store.paths.root, ['volume', 'ls', '-q'])).stdout, 'cache\nlogs1\nlogs2\nlogs10\n');
});
