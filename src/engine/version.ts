import { readFileSync } from 'node:fs';

// Read at run time rather than imported, so the built package (dist/engine/) finds the same
// package.json two levels up as the sources do.
const packageJson = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

/** Pictor's version, written into every image's parameters. */
export const ENGINE_VERSION: string = packageJson.version;
