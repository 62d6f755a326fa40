import type { ReportContainer, ReportData, ReportImage, ReportLayer } from '../report-data.js';
import { bytes, h, plural, shortId, sortableTable } from './dom.js';
import { COLOURS } from './palette.js';

/**
 * One bar per image, one segment per layer sized by its bytes (shared blue, unique
 * orange), the image's containers stacked under it; a click on a segment lists the
 * layer's files.
 */
export function layerBarsPanel(data: ReportData): HTMLElement {
  const widest = Math.max(1, ...data.images.map((i) => i.size), ...data.containers.map((c) => c.sizeRw));
  const details = h('div', { id: 'layer-files', 'aria-live': 'polite' }, h('p', { class: 'hint' }, 'Choose a layer to list its files.'));
  const bars = h('div', { class: 'bars' });
  for (const image of data.images) {
    bars.append(imageBar(data, image, widest, (layer, i) => details.replaceChildren(...layerDetails(data, image, layer, i))));
    for (const c of data.containers.filter((c) => c.image === image.id)) bars.append(containerBar(c, widest));
  }
  const containers = sortableTable<ReportContainer>(
    [
      { title: 'CONTAINER', cell: (c) => c.name, key: (c) => c.name },
      { title: 'IMAGE', cell: (c) => imageName(data, c.image), key: (c) => imageName(data, c.image) },
      { title: 'SIZE', cell: (c) => bytes(c.sizeRw, `df.container.${c.id}.Size`), key: (c) => c.sizeRw, numeric: true },
      { title: 'NEW', cell: (c) => bytes(c.added, `du.container.${c.id}.upper.added`), key: (c) => c.added, numeric: true },
      { title: 'COPIED UP', cell: (c) => bytes(c.copiedUp, `df.container.${c.id}.CopiedUp`), key: (c) => c.copiedUp, numeric: true },
      { title: 'HIDDEN', cell: (c) => bytes(c.hidden, `df.container.${c.id}.Hidden`), key: (c) => c.hidden, numeric: true },
      { title: 'WHITEOUTS', cell: (c) => String(c.whiteouts), key: (c) => c.whiteouts, numeric: true },
    ],
    data.containers,
    { id: 'containers-table' },
  );
  const volumes = sortableTable(
    [
      { title: 'VOLUME NAME', cell: (v) => v.name, key: (v) => v.name },
      { title: 'LINKS', cell: (v) => String(v.links), key: (v) => v.links, numeric: true },
      { title: 'SIZE', cell: (v) => bytes(v.size, `df.volume.${v.name}.Size`), key: (v) => v.size, numeric: true },
    ],
    data.volumes,
    { id: 'volumes-table' },
  );
  return h(
    'section',
    { id: 'layers' },
    h('h2', {}, 'Images, layer by layer, and their containers'),
    h(
      'p',
      { class: 'legend' },
      swatch(COLOURS.shared, 'layer shared with another image'),
      swatch(COLOURS.unique, 'layer of this image only'),
      swatch(COLOURS.containerNew, 'container: new'),
      swatch(COLOURS.copiedUp, 'container: copied up'),
    ),
    bars,
    details,
    h('h3', {}, 'Containers'),
    containers,
    h('h3', {}, 'Volumes'),
    volumes,
  );
}

function imageBar(data: ReportData, image: ReportImage, widest: number, choose: (layer: ReportLayer, index: number) => void): HTMLElement {
  // Wide enough for every segment's 4px (style.css), however small the image.
  const bar = h('div', { class: 'bar', style: `width:${(100 * image.size) / widest}%;min-width:${image.layers.length * 5}px` });
  image.layers.forEach((l, i) => {
    const layer = data.layers[l.chainId]!;
    const shared = layer.images.length > 1;
    const seg = h('button', {
      class: `seg${layer.size === 0 ? ' empty' : ''}`,
      'data-chain': l.chainId,
      'data-layer': i,
      'data-bytes': layer.size,
      // An empty layer (ENV, WORKDIR… with a diff) is a thin grey marker.
      style: `flex-grow:${layer.size};background:${layer.size === 0 ? 'var(--muted)' : shared ? COLOURS.shared : COLOURS.unique}`,
      title: `${l.createdBy || `layer ${i + 1}`}\n${layer.size} bytes${shared ? `, shared with ${layer.images.length - 1} other image(s)` : ''}`,
      'aria-label': `layer ${i + 1} of ${imageName(data, image.id)}`,
    });
    seg.addEventListener('click', () => choose(layer, i));
    bar.append(seg);
  });
  return h(
    'div',
    { class: 'row image-row', 'data-image': image.id },
    h('span', { class: 'label' }, imageName(data, image.id), ' ', bytes(image.size)),
    h('div', { class: 'track' }, bar),
  );
}

function containerBar(c: ReportContainer, widest: number): HTMLElement {
  const bar = h(
    'div',
    { class: 'bar', style: `width:${(100 * c.sizeRw) / widest}%` },
    // A part of 0 bytes has no segment (every segment keeps a few pixels).
    c.added > 0 &&
      h('span', { class: 'seg', style: `flex-grow:${c.added};background:${COLOURS.containerNew}`, title: `new: ${c.added} bytes` }),
    c.copiedUp > 0 &&
      h('span', { class: 'seg', style: `flex-grow:${c.copiedUp};background:${COLOURS.copiedUp}`, title: `copied up: ${c.copiedUp} bytes` }),
  );
  return h(
    'div',
    { class: 'row container-row', 'data-container': c.id },
    h('span', { class: 'label' }, `↳ ${c.name} `, bytes(c.sizeRw), h('small', {}, ' hides ', bytes(c.hidden))),
    h('div', { class: 'track' }, bar),
  );
}

function layerDetails(data: ReportData, image: ReportImage, layer: ReportLayer, index: number): Node[] {
  const others = layer.images
    .filter((id) => id !== image.id)
    .map((id) => imageName(data, id))
    .sort();
  const unlisted =
    layer.files.length < layer.fileCount ? h('p', {}, `and ${plural(layer.fileCount - layer.files.length, 'more file')}`) : null;
  return [
    h('h3', {}, `Layer ${index + 1} of ${imageName(data, image.id)}: `, bytes(layer.size, `du.image.${image.id}.layer.${index}.size`)),
    h('p', {}, h('code', {}, image.layers[index]!.createdBy || '(no build step recorded)')),
    h(
      'p',
      {},
      `diffID ${shortId(layer.diffId)} · ${plural(layer.fileCount, 'file')} · `,
      others.length > 0 ? `shared with ${others.join(', ')}` : 'in no other image',
      ' · still visible: ',
      bytes(image.layers[index]!.visible, `du.image.${image.id}.layer.${index}.visible`),
    ),
    sortableTable(
      [
        { title: 'PATH', cell: (f) => f.path, key: (f) => f.path },
        { title: 'SIZE', cell: (f) => bytes(f.size), key: (f) => f.size, numeric: true },
      ],
      layer.files,
      { class: 'files' },
    ),
    ...(unlisted ? [unlisted] : []),
  ];
}

export function imageName(data: ReportData, id: string): string {
  return data.images.find((i) => i.id === id)?.tags[0] ?? shortId(id);
}

function swatch(colour: string, text: string): HTMLElement {
  return h('span', {}, h('span', { class: 'swatch', style: `background:${colour}` }), text);
}
