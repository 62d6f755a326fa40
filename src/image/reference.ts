/**
 * Image references are parsed where archives name them (src/archive/reference.ts):
 * an archive reader must not reach up into the image store. Image code imports
 * them from here.
 */
export * from '../archive/reference.js';
