/** Flags of `pictor serve`: shorthands plus any setting as `--section.key=value`. */
const SHORTHANDS: Record<string, string> = {
  port: 'server.port',
  host: 'server.host',
  'data-dir': 'dataDir',
  model: 'models.default',
  'log-level': 'log.level',
};

export interface ParsedArgs {
  readonly command: string | undefined;
  readonly flags: Record<string, string>;
  readonly configFile: string | undefined;
  readonly problems: readonly string[];
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const flags: Record<string, string> = {};
  const problems: string[] = [];
  let command: string | undefined;
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) {
      if (command === undefined) command = arg;
      else problems.push(`unexpected argument '${arg}'`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) {
      problems.push(`--${name} needs a value`);
      continue;
    }
    if (name === 'config') configFile = value;
    else flags[SHORTHANDS[name] ?? name] = value;
  }
  return { command, flags, configFile, problems };
}
