import type { HierarchyNode } from 'd3-hierarchy';
import type { ReportData } from '../report-data.js';
import { bytes, h } from './dom.js';
import type { Subject } from './explorer.js';
import type { ViewNode } from './merge-upper.js';
import { layerColour } from './palette.js';

/**
 * The explorer's colour key: each layer with its build step and the bytes of it the
 * tree shows (`du`'s VISIBLE), and for a container its upper's new and copied-up bytes.
 */
export function subjectLegend(data: ReportData, subject: Subject, root: HierarchyNode<ViewNode>): HTMLElement {
  const [kind, id] = subject.key.split(/:(.*)/s) as [string, string];
  const container = kind === 'container' ? data.containers.find((c) => c.id === id) : undefined;
  const image = data.images.find((i) => i.id === (container?.image ?? id))!;
  const shown = new Array<number>(subject.upperLayer).fill(0);
  let added = 0;
  let copiedUp = 0;
  for (const leaf of root.leaves()) {
    const d = leaf.data;
    if (d.c !== undefined || d.l === undefined) continue;
    if (d.l < subject.upperLayer) shown[d.l]! += d.s ?? 0;
    else if (d.cu) copiedUp += d.s ?? 0;
    else added += d.s ?? 0;
  }
  const rows = image.layers.map((l, i) =>
    h(
      'li',
      {},
      h('span', { class: 'swatch', style: `background:${layerColour(i, subject.upperLayer)}` }),
      `layer ${i + 1}: `,
      bytes(shown[i]!, `du.${kind}.${id}.layer.${i}.visible`),
      ' ',
      h('code', {}, l.createdBy),
    ),
  );
  if (container)
    rows.push(
      h(
        'li',
        {},
        h('span', { class: 'swatch', style: `background:${layerColour(subject.upperLayer, subject.upperLayer)}` }),
        'upper, new: ',
        bytes(added, `du.container.${id}.upper.added`),
      ),
      h(
        'li',
        {},
        h('span', { class: 'swatch', style: `background:${layerColour(subject.upperLayer, subject.upperLayer, true)}` }),
        'upper, copied up: ',
        bytes(copiedUp, `du.container.${id}.upper.copiedUp`),
      ),
    );
  return h('ol', { class: 'layer-key' }, ...rows);
}
