import type { ReportData, StoreTotals } from '../report-data.js';
import { bytes, h, sortableTable } from './dom.js';
import { COLOURS } from './palette.js';

const PARTS: { key: keyof StoreTotals; label: string; colour: string }[] = [
  { key: 'sharedLayers', label: 'Shared layers', colour: COLOURS.shared },
  { key: 'uniqueLayers', label: 'Unique layers', colour: COLOURS.unique },
  { key: 'containersNew', label: 'Containers: new', colour: COLOURS.containerNew },
  { key: 'containersCopiedUp', label: 'Containers: copied up', colour: COLOURS.copiedUp },
  { key: 'volumes', label: 'Volumes', colour: COLOURS.volumes },
  { key: 'blobs', label: 'Stored blobs (for save and push)', colour: COLOURS.blobs },
  { key: 'leftovers', label: 'Leftovers (gc removes them)', colour: COLOURS.leftovers },
  { key: 'metadata', label: 'Records and metadata', colour: COLOURS.metadata },
];

/** The totals that add up to the store's size, with Docker's `system df` beside them. */
export function summaryPanel(data: ReportData): HTMLElement {
  const t = data.totals;
  const bar = h('div', { class: 'stack', role: 'img', 'aria-label': 'Store size by part' });
  for (const p of PARTS) {
    if (t[p.key] === 0) continue;
    const seg = h('span', { class: 'seg', style: `flex-grow:${t[p.key]};background:${p.colour}`, title: `${p.label}: ${t[p.key]} bytes` });
    bar.append(seg);
  }
  const parts = h(
    'table',
    { id: 'totals' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Part'), h('th', { scope: 'col', class: 'n' }, 'Size'))),
    h(
      'tbody',
      {},
      ...PARTS.map((p) =>
        h(
          'tr',
          {},
          h('td', {}, h('span', { class: 'swatch', style: `background:${p.colour}` }), p.label),
          h('td', { class: 'n' }, bytes(t[p.key], `totals.${p.key}`)),
        ),
      ),
    ),
    h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, 'Store on disk'), h('td', { class: 'n' }, bytes(t.total, 'totals.total')))),
  );
  const docker = sortableTable(
    [
      { title: 'TYPE', cell: (r) => r.Type, key: (r) => r.Type },
      { title: 'TOTAL', cell: (r) => String(r.TotalCount), key: (r) => r.TotalCount, numeric: true },
      { title: 'ACTIVE', cell: (r) => String(r.Active), key: (r) => r.Active, numeric: true },
      { title: 'SIZE', cell: (r) => bytes(r.Size, `df.summary.${r.Type}.Size`), key: (r) => r.Size, numeric: true },
      {
        title: 'RECLAIMABLE',
        cell: (r) => bytes(r.Reclaimable, `df.summary.${r.Type}.Reclaimable`),
        key: (r) => r.Reclaimable,
        numeric: true,
      },
    ],
    data.docker,
    { id: 'docker-df' },
  );
  const images = sortableTable(
    [
      { title: 'IMAGE', cell: (r) => r.tags[0] ?? r.id.slice(7, 19), key: (r) => r.tags[0] ?? r.id },
      { title: 'SIZE', cell: (r) => bytes(r.size, `df.image.${r.id}.Size`), key: (r) => r.size, numeric: true },
      { title: 'SHARED SIZE', cell: (r) => bytes(r.sharedSize, `df.image.${r.id}.SharedSize`), key: (r) => r.sharedSize, numeric: true },
      { title: 'UNIQUE SIZE', cell: (r) => bytes(r.uniqueSize, `df.image.${r.id}.UniqueSize`), key: (r) => r.uniqueSize, numeric: true },
      { title: 'CONTAINERS', cell: (r) => String(r.containers), key: (r) => r.containers, numeric: true },
    ],
    data.images,
    { id: 'docker-images' },
  );
  return h(
    'section',
    { id: 'summary' },
    h('h2', {}, 'Store totals'),
    bar,
    h(
      'div',
      { class: 'columns' },
      h('div', {}, h('h3', {}, 'The store, part by part'), parts),
      h('div', {}, h('h3', {}, "Docker's view (system df)"), docker, h('h3', {}, 'Images (system df -v)'), images),
    ),
  );
}
