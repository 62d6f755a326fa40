import type { ReportData, ReportWaste } from '../report-data.js';
import type { WastedPath } from '../../usage/waste.js';
import { bytes, count, h, plural, ratio, sortableTable } from './dom.js';
import { imageName } from './layer-bars.js';

/**
 * dive's figures for each image (and each container named on the command line), the
 * same numbers as `du --waste`: its efficiency score and wasted bytes, which count
 * every copy, beside what keeping one copy per path would really free; then the
 * paths stored more than once, in a table that sorts by any column.
 */
export function wastePanel(data: ReportData): HTMLElement {
  const select = h('select', { id: 'waste-subject', 'aria-label': 'image or container' });
  // The most wasteful first: what the reader came for.
  const ordered = [...data.waste].sort((a, b) => b.report.wastedBytes - a.report.wastedBytes);
  for (const w of ordered) select.append(h('option', { value: w.subject }, subjectName(data, w.subject)));
  const body = h('div', { id: 'waste-body' });
  const show = (w: ReportWaste | undefined) => body.replaceChildren(...(w ? wasteFigures(w) : [h('p', {}, 'No image to measure.')]));
  select.addEventListener('change', () => show(data.waste.find((w) => w.subject === select.value)));
  show(ordered[0]);
  return h(
    'section',
    { id: 'waste' },
    h('h2', {}, 'Wasted space'),
    h(
      'p',
      { class: 'hint' },
      "dive's figures, as ",
      h('code', {}, 'strata du --waste'),
      " prints them. A container's are listed when it is named: ",
      h('code', {}, 'strata report CONTAINER'),
      '.',
    ),
    select,
    body,
  );
}

function wasteFigures(w: ReportWaste): Node[] {
  const r = w.report;
  const key = (field: string) => `waste.${w.subject}.${field}`;
  const layerName = (i: number) => (r.layers[i]?.kind === 'upper' ? 'upper' : `layer ${i + 1}`);
  const figures = h(
    'dl',
    { class: 'figures' },
    h('dt', {}, 'Efficiency score (dive)'),
    h('dd', {}, ratio(r.efficiencyScore, key('efficiencyScore'))),
    h('dt', {}, 'Wasted, every copy counted (dive)'),
    h('dd', {}, bytes(r.wastedBytes, key('wastedBytes'))),
    h('dt', {}, 'Reclaimable: one copy of each path kept'),
    h('dd', {}, bytes(r.reclaimableBytes, key('reclaimableBytes'))),
    h('dt', {}, 'Image size (dive)'),
    h('dd', {}, bytes(r.sizeBytes, key('sizeBytes'))),
    h('dt', {}, 'User wasted (dive: wasted over the layers above the base)'),
    h('dd', {}, ratio(r.userWastedPercent, key('userWastedPercent'))),
  );
  const table = sortableTable<WastedPath>(
    [
      { title: 'PATH', cell: (p) => p.path, key: (p) => p.path },
      { title: 'COUNT', cell: (p) => count(p.count, key(`path.${p.path}.count`)), key: (p) => p.count, numeric: true },
      { title: 'BYTES', cell: (p) => bytes(p.bytes, key(`path.${p.path}.bytes`)), key: (p) => p.bytes, numeric: true },
      {
        title: 'RECLAIMABLE',
        cell: (p) => bytes(p.reclaimableBytes, key(`path.${p.path}.reclaimableBytes`)),
        key: (p) => p.reclaimableBytes,
        numeric: true,
      },
      {
        title: 'LAYERS',
        cell: (p) => p.occurrences.map((o) => `${layerName(o.layer)}${o.whiteout ? ' (whiteout)' : ''}`).join(', '),
      },
    ],
    r.paths,
    { id: 'waste-table' },
  );
  const more =
    w.pathCount > r.paths.length ? h('p', {}, `The ${r.paths.length} with the most bytes of ${plural(w.pathCount, 'path')}.`) : null;
  return [figures, h('h3', {}, `Paths stored more than once (${w.pathCount})`), table, ...(more ? [more] : [])];
}

function subjectName(data: ReportData, subject: string): string {
  const [kind, id] = subject.split(/:(.*)/s) as [string, string];
  if (kind === 'container') return `container ${data.containers.find((c) => c.id === id)?.name ?? id.slice(0, 12)}`;
  return `image ${imageName(data, id)}`;
}
