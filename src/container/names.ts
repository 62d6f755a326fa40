import { randomInt } from 'node:crypto';

/**
 * Docker-style generated names (`adjective_noun`) for containers created without
 * --name. The words are strata's own: layers and rocks.
 */
const ADJECTIVES = [
  'amber',
  'basalt',
  'bright',
  'calm',
  'deep',
  'dusty',
  'eager',
  'fossil',
  'gentle',
  'glassy',
  'hidden',
  'jagged',
  'layered',
  'mossy',
  'narrow',
  'opal',
  'patient',
  'quiet',
  'rapid',
  'sandy',
  'shiny',
  'silent',
  'steady',
  'tidal',
  'upper',
  'vivid',
  'warm',
  'young',
];
const NOUNS = [
  'aquifer',
  'bedrock',
  'boulder',
  'canyon',
  'cliff',
  'delta',
  'dune',
  'estuary',
  'fault',
  'fjord',
  'geode',
  'glacier',
  'granite',
  'karst',
  'lagoon',
  'marble',
  'mesa',
  'moraine',
  'outcrop',
  'quarry',
  'ridge',
  'schist',
  'shale',
  'slate',
  'strata',
  'tuff',
  'valley',
];

export function generateName(taken: Set<string>): string {
  for (;;) {
    const name = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NOUNS[randomInt(NOUNS.length)]}`;
    if (!taken.has(name)) return name;
    const numbered = `${name}${randomInt(10)}`;
    if (!taken.has(numbered)) return numbered;
  }
}

const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function isValidContainerName(name: string): boolean {
  return VALID_NAME.test(name);
}
