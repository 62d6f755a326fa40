import test from 'ava';
import { reportHtml } from '../../src/report/html.js';
import type { ReportData } from '../../src/report/report-data.js';

const hostile = 'RUN echo "</script><script>alert(1)</script><!--"';

function data(): ReportData {
  const totals = {
    sharedLayers: 0,
    uniqueLayers: 5,
    containersNew: 0,
    containersCopiedUp: 0,
    volumes: 0,
    blobs: 0,
    leftovers: 0,
    metadata: 0,
    total: 5,
  };
  const chainId = `sha256:${'a'.repeat(64)}`;
  return {
    formatVersion: 1,
    totals,
    docker: [],
    layers: { [chainId]: { chainId, diffId: chainId, size: 5, images: [`sha256:${'b'.repeat(64)}`], files: [], fileCount: 0 } },
    images: [
      {
        id: `sha256:${'b'.repeat(64)}`,
        tags: ['x:1'],
        size: 5,
        sharedSize: 0,
        uniqueSize: 5,
        containers: 0,
        layers: [{ chainId, createdBy: hostile, visible: 5 }],
        tree: { n: '', c: [{ n: '<!--', s: 5, l: 0 }] },
      },
    ],
    containers: [],
    volumes: [],
    waste: [],
  };
}

test('a build step or file name with </script> or <!-- in it cannot end the embedded data early', async (t) => {
  const html = await reportHtml(data());
  // The data block and the script: nothing from the data closes a script or opens a comment.
  t.is(html.split('</script>').length - 1, 2);
  t.false(html.includes('<!--'));
  const embedded = html.match(/<script type="application\/json" id="report-data">(.*?)<\/script>/s)![1]!;
  t.deepEqual(JSON.parse(embedded), data());
});
