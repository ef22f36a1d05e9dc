import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { PictorConfig } from './config.ts';
import { ConfigError } from './config-error.ts';
import { nodeRoleProblems, type NodeRole } from './node-role.ts';
import { validateConfig } from './validate-config.ts';

type Raw = Record<string, unknown>;

export interface LoadConfigOptions {
  /** Directory relative paths resolve against; `process.cwd()` by default. */
  readonly cwd?: string;
  /** Environment to read `PICTOR_*` from; `process.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Parsed command-line flags, highest priority: `{ 'server.port': '9000', dataDir: '…' }`. */
  readonly flags?: Readonly<Record<string, string>>;
  /** Path of the YAML file; `pictor.yaml` in `cwd` (if present) by default, or `PICTOR_CONFIG`. */
  readonly file?: string;
  /** The process's role; `api` and `worker` refuse a config without the shared services. */
  readonly role?: NodeRole;
}

const camel = (segment: string): string =>
  segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function setPath(target: Raw, keys: readonly string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node = typeof next === 'object' && next !== null ? (next as Raw) : (node[key] = {});
  }
  node[keys.at(-1) ?? ''] = value;
}

/**
 * `PICTOR_SERVER__PORT=9000` → `{ server: { port: '9000' } }`; `__` nests, `_` becomes camelCase.
 * A value that is a JSON list or object (`PICTOR_MODELS__LIST='[{"name":…}]'`) is parsed as one.
 */
export function envLayer(env: Readonly<Record<string, string | undefined>>): Raw {
  const layer: Raw = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('PICTOR_') || name === 'PICTOR_CONFIG' || value === undefined) continue;
    setPath(layer, name.slice('PICTOR_'.length).split('__').map(camel), envValue(name, value));
  }
  return layer;
}

/**
 * The variables the Hugging Face and CivitAI tools already read, so a machine set up for them
 * works as is (`PICTOR_SOURCES__…` still wins).
 */
export function sourcesEnvLayer(env: Readonly<Record<string, string | undefined>>): Raw {
  const layer: Raw = {};
  const set = (keys: readonly string[], value: string | undefined): void => {
    if (value !== undefined && value !== '') setPath(layer, keys, value);
  };
  set(['sources', 'huggingFace', 'endpoint'], env['HF_ENDPOINT']);
  set(['sources', 'huggingFace', 'token'], env['HF_TOKEN']);
  set(
    ['sources', 'huggingFace', 'cacheDir'],
    env['HF_HUB_CACHE'] ?? (env['HF_HOME'] ? path.join(env['HF_HOME'], 'hub') : undefined),
  );
  set(['sources', 'civitai', 'token'], env['CIVITAI_TOKEN']);
  return layer;
}

function envValue(name: string, value: string): unknown {
  if (!/^\s*[[{]/.test(value)) return value;
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new ConfigError([`${name}: not valid JSON: ${(error as Error).message}`]);
  }
}

function flagLayer(flags: Readonly<Record<string, string>>): Raw {
  const layer: Raw = {};
  for (const [name, value] of Object.entries(flags)) setPath(layer, name.split('.'), value);
  return layer;
}

function fileLayer(file: string): Raw {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError([`${file}: ${(error as Error).message.split('\n')[0] ?? 'unreadable'}`]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError([`${file}: expected a mapping at the top level`]);
  }
  return parsed as Raw;
}

/**
 * Builds the configuration: defaults → `pictor.yaml` → `PICTOR_*` env → flags. Throws a
 * {@link ConfigError} listing every problem.
 */
export function loadConfig(options: LoadConfigOptions = {}): PictorConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const explicit = options.file ?? env['PICTOR_CONFIG'];
  const file = path.resolve(cwd, explicit ?? 'pictor.yaml');
  if (explicit !== undefined && !existsSync(file)) {
    throw new ConfigError([`config file ${file} does not exist`]);
  }
  const layers = [
    existsSync(file) ? fileLayer(file) : {},
    sourcesEnvLayer(env),
    envLayer(env),
    flagLayer(options.flags ?? {}),
  ];
  const config = validateConfig(layers, cwd);
  const problems = nodeRoleProblems(config, options.role ?? 'serve');
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
