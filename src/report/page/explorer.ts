import { hierarchy, treemapSquarify, type HierarchyNode, type HierarchyRectangularNode } from 'd3-hierarchy';
import type { ReportData } from '../report-data.js';
import { bytes, h, plural, sortableTable } from './dom.js';
import { imageName } from './layer-bars.js';
import { mergeUpper, type ViewNode } from './merge-upper.js';
import { layerColour } from './palette.js';
import { subjectLegend } from './explorer-legend.js';
import { dominantLayer, fileCount, layerName } from './tree-node-facts.js';

const W = 960;
const H = 480;
const SVG = 'http://www.w3.org/2000/svg';
const SEARCH_RESULTS = 100;

type HNode = HierarchyNode<ViewNode>;
type Cell = HierarchyRectangularNode<ViewNode>;

/** One image's or container's tree: what it draws and how its layers are numbered. */
export interface Subject {
  key: string;
  label: string;
  /** Made when shown, not before: merging a container's upper copies its image's tree. */
  tree: () => ViewNode;
  /** Layers below the upper; a container's upper is number `upperLayer`. */
  upperLayer: number;
}

/**
 * The explorer: a squarified treemap of one merged tree, coloured by the layer each
 * file comes from, largest first; a click on a directory zooms into it, the
 * breadcrumbs zoom out, the search finds names anywhere in the tree, and the table
 * under it lists what the treemap shows (tiny files have no area in it).
 */
export function explorerPanel(data: ReportData): HTMLElement {
  const subjects: Subject[] = [
    // Largest first, so the explorer opens on what takes most room.
    ...[...data.images]
      .sort((a, b) => b.size - a.size)
      .map((i) => ({
        key: `image:${i.id}`,
        label: `image ${imageName(data, i.id)}`,
        tree: () => i.tree,
        upperLayer: i.layers.length,
      })),
    ...[...data.containers]
      .sort((a, b) => b.sizeRw - a.sizeRw)
      .map((c) => {
        const image = data.images.find((i) => i.id === c.image)!;
        return {
          key: `container:${c.id}`,
          label: `container ${c.name}`,
          tree: () => mergeUpper(image.tree, c.upper),
          upperLayer: image.layers.length,
        };
      }),
  ];
  const select = h(
    'select',
    { id: 'subject', 'aria-label': 'image or container' },
    ...subjects.map((s) => h('option', { value: s.key }, s.label)),
  );
  const legend = h('div', { id: 'explorer-legend' });
  const crumbs = h('nav', { id: 'crumbs', 'aria-label': 'path' });
  const search = h('input', { id: 'search', type: 'search', placeholder: 'Find a file or directory', 'aria-label': 'search' });
  const svg = document.createElementNS(SVG, 'svg');
  svg.id = 'treemap';
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('tabindex', '0');
  const listing = h('div', { id: 'tree-listing' });
  const results = h('div', { id: 'search-results' });

  let subject = subjects[0];
  let root: HNode | undefined;
  let focus: HNode | undefined;
  let matches = new Set<HNode>();

  const pathOf = (n: HNode) =>
    n
      .ancestors()
      .reverse()
      .map((a) => a.data.n)
      .join('/') || '/';
  const colourOf = (n: HNode) => layerColour(dominantLayer(n), subject!.upperLayer, n.data.cu === true);

  const zoom = (n: HNode) => {
    focus = n;
    const trail = n.ancestors().reverse();
    crumbs.replaceChildren(
      ...trail.flatMap((a, i): (HTMLElement | string)[] => {
        const name = i === 0 ? '/' : a.data.n;
        if (i === trail.length - 1) return [h('span', { 'aria-current': 'location' }, name)];
        const b = h('button', { type: 'button' }, name);
        b.addEventListener('click', () => zoom(a));
        return [b, ' › '];
      }),
    );
    drawTreemap();
    drawListing();
  };

  const drawTreemap = () => {
    const f = focus as Cell;
    // Two levels laid out by the tiling itself: d3's treemap() lays out from a root only.
    treemapSquarify(f, 0, 0, W, H);
    for (const c of (f.children ?? []) as Cell[]) if (c.children) treemapSquarify(c, c.x0, c.y0, c.x1, c.y1);
    const cells: Element[] = [];
    for (const c of (f.children ?? []) as Cell[]) {
      const g = document.createElementNS(SVG, 'g');
      const rect = svgRect(c, 'tm-cell', colourOf(c));
      rect.setAttribute('data-path', pathOf(c));
      rect.setAttribute('data-bytes', String(c.value ?? 0));
      if (matches.has(c)) rect.classList.add('match');
      const title = document.createElementNS(SVG, 'title');
      title.textContent = `${pathOf(c)}: ${c.value ?? 0} bytes`;
      rect.append(title);
      g.append(rect);
      // The next level inside, for the shape of a directory; only its own cell is what a click zooms to.
      for (const inner of (c.children ?? []) as Cell[])
        if ((inner.x1 - inner.x0) * (inner.y1 - inner.y0) > 16) g.append(svgRect(inner, 'tm-inner', colourOf(inner)));
      if (c.x1 - c.x0 > 60 && c.y1 - c.y0 > 14) {
        const label = document.createElementNS(SVG, 'text');
        label.setAttribute('x', String(c.x0 + 4));
        label.setAttribute('y', String(c.y0 + 13));
        label.textContent = c.data.n;
        g.append(label);
      }
      if (c.children) {
        // Keyboard too: Tab to a directory, Enter to zoom in; Escape (below) zooms out.
        g.classList.add('zoomable');
        g.setAttribute('tabindex', '0');
        g.setAttribute('role', 'button');
        g.setAttribute('aria-label', `${pathOf(c)}, ${c.value ?? 0} bytes`);
        g.addEventListener('click', () => zoom(c));
        g.addEventListener('keydown', (e) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            zoom(c);
            ((svg.querySelector('.zoomable') as SVGGElement | null) ?? svg).focus();
          }
        });
      }
      cells.push(g);
    }
    svg.replaceChildren(...cells);
  };

  const drawListing = () => {
    listing.replaceChildren(
      sortableTable<HNode>(
        [
          {
            title: 'NAME',
            cell: (n) => (n.children ? zoomButton(n.data.n, () => zoom(n)) : n.data.n),
            key: (n) => n.data.n,
          },
          { title: 'SIZE', cell: (n) => bytes(n.value ?? 0), key: (n) => n.value ?? 0, numeric: true },
          { title: 'FILES', cell: (n) => String(fileCount(n)), key: fileCount, numeric: true },
          { title: 'LAYER', cell: (n) => (n.children ? '' : layerName(n.data, subject!.upperLayer)), key: (n) => n.data.l ?? -1 },
        ],
        focus!.children ?? [],
        { id: 'tree-table' },
      ),
    );
  };

  const find = () => {
    const q = search.value.trim().toLowerCase();
    matches = new Set();
    if (q === '' || root === undefined) {
      results.replaceChildren();
      drawTreemap();
      return;
    }
    const found = root.descendants().filter((n) => n.depth > 0 && n.data.k === undefined && n.data.n.toLowerCase().includes(q));
    for (const n of found) for (const a of n.ancestors()) matches.add(a);
    results.replaceChildren(
      h(
        'p',
        {},
        found.length > SEARCH_RESULTS
          ? `${found.length} matches, the ${SEARCH_RESULTS} largest:`
          : plural(found.length, 'match', 'matches'),
      ),
      sortableTable<HNode>(
        [
          { title: 'PATH', cell: (n) => zoomButton(pathOf(n), () => zoom(n.children ? n : n.parent!)), key: pathOf },
          { title: 'SIZE', cell: (n) => bytes(n.value ?? 0), key: (n) => n.value ?? 0, numeric: true },
        ],
        found.sort((a, b) => (b.value ?? 0) - (a.value ?? 0)).slice(0, SEARCH_RESULTS),
        { id: 'search-table' },
      ),
    );
    drawTreemap();
  };

  const show = (s: Subject) => {
    subject = s;
    root = hierarchy<ViewNode>(s.tree(), (d) => d.c)
      .sum((d) => (d.c ? 0 : (d.s ?? 0)))
      .sort((a, b) => (b.value ?? 0) - (a.value ?? 0) || a.data.n.localeCompare(b.data.n));
    legend.replaceChildren(subjectLegend(data, s, root));
    search.value = '';
    results.replaceChildren();
    matches = new Set();
    zoom(root);
  };
  svg.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && focus?.parent) zoom(focus.parent);
  });
  select.addEventListener('change', () => show(subjects.find((s) => s.key === select.value)!));
  search.addEventListener('input', find);
  if (subject) show(subject);

  return h(
    'section',
    { id: 'explorer' },
    h('h2', {}, 'Explorer'),
    h('div', { class: 'toolbar' }, select, search),
    legend,
    crumbs,
    svg,
    results,
    listing,
  );
}

function svgRect(c: Cell, cls: string, fill: string): SVGRectElement {
  const rect = document.createElementNS(SVG, 'rect');
  rect.setAttribute('class', cls);
  rect.setAttribute('x', String(c.x0));
  rect.setAttribute('y', String(c.y0));
  rect.setAttribute('width', String(c.x1 - c.x0));
  rect.setAttribute('height', String(c.y1 - c.y0));
  rect.setAttribute('fill', fill);
  return rect;
}

function zoomButton(text: string, onClick: () => void): HTMLElement {
  const b = h('button', { type: 'button', class: 'link' }, text);
  b.addEventListener('click', onClick);
  return b;
}
