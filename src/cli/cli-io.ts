import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Kysely } from 'kysely';
import { loadConfig, type PictorConfig } from '../config/index.ts';
import { openDatabase, type Database } from '../store/index.ts';
import { createAccounts, type Accounts } from './compose-accounts.ts';

/** Where a command writes; process.stdout / stderr in `main.ts`, buffers in tests. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Environment for `PICTOR_*` settings; `process.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Standard output is a terminal: progress is redrawn in place. */
  readonly interactive?: boolean;
}

/** A wrong command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: readonly string[];
  /** `--config` file and config flags (`--data-dir`, `--database.url=…`), as for `pictor serve`. */
  readonly configFile: string | undefined;
  readonly configFlags: Record<string, string>;
}

const GLOBAL: Options = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
};

/**
 * Parses a command line with `node:util` `parseArgs` (built in: no dependency). Setting flags
 * written `--section.key=value` are taken out first and passed to the config like `serve` does.
 */
export function parseCommand(argv: readonly string[], options: Options): Parsed {
  const rest: string[] = [];
  const configFlags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const dotted = /^--([a-zA-Z]+\.[a-zA-Z.]+)(?:=(.*))?$/.exec(arg);
    if (dotted?.[1]) {
      const value = dotted[2] ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${dotted[1]} needs a value`);
      configFlags[dotted[1]] = value;
    } else {
      rest.push(arg);
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...GLOBAL, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const dataDir = values['data-dir'];
  if (typeof dataDir === 'string') configFlags['dataDir'] = dataDir;
  const configFile = typeof values['config'] === 'string' ? values['config'] : undefined;
  return { values, positionals: parsed.positionals, configFile, configFlags };
}

/** Opens the server's database (same config resolution as `serve`) with the account services. */
export async function openAccounts(
  parsed: Parsed,
  io: CliIo,
): Promise<{ config: PictorConfig; db: Kysely<Database>; accounts: Accounts }> {
  const config = loadConfig({
    flags: parsed.configFlags,
    ...(io.env === undefined ? {} : { env: io.env }),
    ...(parsed.configFile === undefined ? {} : { file: parsed.configFile }),
  });
  const db = await openDatabase({ driver: config.database.driver, url: config.database.url });
  return { config, db, accounts: createAccounts(db, config, undefined) };
}
