/**
 * Okabe and Ito's colour-blind-safe palette: layers take its colours in turn, and
 * the categories of the page each have one that stays the same everywhere.
 */
const LAYER_COLOURS = ['#0072B2', '#E69F00', '#009E73', '#56B4E9', '#D55E00', '#F0E442'];

export const COLOURS = {
  shared: '#0072B2',
  unique: '#E69F00',
  containerNew: '#CC79A7',
  copiedUp: '#882255',
  volumes: '#009E73',
  blobs: '#56B4E9',
  leftovers: '#D55E00',
  metadata: '#999999',
} as const;

/** A layer's colour; `upperLayer` (the layer count) is a container's upper, split into new and copied-up. */
export function layerColour(layer: number, upperLayer: number, copiedUp = false): string {
  if (layer >= upperLayer) return copiedUp ? COLOURS.copiedUp : COLOURS.containerNew;
  return LAYER_COLOURS[layer % LAYER_COLOURS.length]!;
}
