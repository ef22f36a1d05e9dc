import packageJson from '../../package.json' with { type: 'json' };

/** Pictor's version, written into every image's parameters. */
export const ENGINE_VERSION: string = packageJson.version;
