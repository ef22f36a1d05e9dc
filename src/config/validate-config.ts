import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  COMPONENT_ROLES,
  DEFAULT_CONFIG,
  MODEL_ALIAS_PATTERN,
  TOKENIZER_ROLES,
  type PictorConfig,
} from './config.ts';
import { ConfigError } from './config-error.ts';
import { parseQuantization, QUANTIZATION_SPELLINGS } from './quantization-setting.ts';

type Raw = Record<string, unknown>;

const ENUMS: Record<string, readonly string[]> = {
  'database.driver': ['sqlite', 'postgres'],
  'storage.blobs': ['local', 'postgres', 's3'],
  'workers.engine': ['onnx', 'fake'],
  'log.level': ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
};
const DEVICES = ['cpu', 'cuda', 'coreml', 'dml', 'webgpu'];
const RANGES: Record<string, readonly [number, number]> = {
  'server.port': [0, 65535],
  'server.bodyLimitMb': [1, 1024],
  'server.shutdownTimeoutSeconds': [0, 3600],
  'server.requestTimeoutSeconds': [1, 3600],
  'workers.intraOpThreads': [0, 1024],
  'workers.restartDelayMs': [0, 600000],
  'workers.fakeStepMs': [0, 600000],
  'models.keepAliveSeconds': [-1, 30 * 86400],
  'sources.retries': [0, 100],
  'sources.retryBackoffMs': [0, 600_000],
  'sources.parallelDownloads': [1, 64],
  'workers.stepTimeoutMs': [100, 86_400_000],
  'queue.maxQueued': [1, 1_000_000],
  'queue.maxBatch': [1, 64],
  'queue.maxImagesPerJob': [1, 64],
  'queue.maxPromptLength': [1, 1_000_000],
  'queue.maxWaitSeconds': [1, 7 * 86400],
  'uploads.quotaMbPerKey': [0, 1_000_000_000],
  'uploads.maxPixels': [64 * 64, 1_000_000_000],
  'results.ttlSeconds': [1, 365 * 86400],
  'results.sweepIntervalSeconds': [1, 86400],
  'webhooks.maxAttempts': [1, 100],
  'webhooks.initialBackoffMs': [1, 86_400_000],
  'webhooks.timeoutMs': [1, 600_000],
  'auth.keylessRateLimit': [0, 1_000_000],
  'auth.keylessMaxJobs': [0, 1_000_000],
  'auth.keylessMaxSteps': [1, 1000],
  'auth.keylessMaxSize': [64, 8192],
  'auth.defaultRateLimit': [0, 1_000_000],
  'auth.defaultMaxJobs': [0, 1_000_000],
  'auth.sessionTtlSeconds': [60, 30 * 86400],
  'auth.maxKeysPerUser': [1, 1000],
  'credits.costPerImage': [0, 1_000_000],
  'links.ttlSeconds': [1, 7 * 86400],
  'irgolic.imageUrlMaxMb': [1, 1024],
  'irgolic.imageUrlTimeoutMs': [100, 600_000],
  'log.fileMaxSizeMb': [1, 100_000],
  'log.fileKeep': [1, 1000],
  'cluster.leaseMs': [500, 3_600_000],
  'redis.timeoutMs': [100, 600_000],
};

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Coerces a string (from the environment or a flag) to the type of the default it replaces. */
function coerce(value: unknown, def: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (typeof def === 'number' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  if (typeof def === 'boolean' && /^(true|false|1|0)$/i.test(value))
    return /^(true|1)$/i.test(value);
  if (Array.isArray(def) && def.every((item) => typeof item === 'string'))
    return value.split(',').map((s) => s.trim());
  return value;
}

function checkValue(key: string, value: unknown, def: unknown, problems: string[]): unknown {
  if (Array.isArray(def)) {
    if (!Array.isArray(value)) problems.push(`${key}: expected a list`);
    return value;
  }
  if (typeof value !== typeof def) {
    problems.push(`${key}: expected a ${typeof def}, got ${JSON.stringify(value)}`);
    return value;
  }
  const choices = ENUMS[key];
  if (choices && !choices.includes(value as string)) {
    problems.push(`${key}: must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  }
  const range = RANGES[key];
  if (
    range &&
    (!Number.isInteger(value) || (value as number) < range[0] || (value as number) > range[1])
  ) {
    problems.push(
      `${key}: must be an integer from ${range[0]} to ${range[1]}, got ${String(value)}`,
    );
  }
  return value;
}

function merge(def: Raw, raw: Raw, prefix: string, problems: string[]): Raw {
  const out: Raw = {};
  for (const key of Object.keys(raw)) {
    if (!(key in def)) problems.push(`${prefix}${key}: unknown setting`);
  }
  for (const [key, defValue] of Object.entries(def)) {
    const full = `${prefix}${key}`;
    const rawValue = raw[key];
    if (rawValue === undefined || rawValue === null) {
      out[key] = defValue;
    } else if (isObject(defValue)) {
      if (isObject(rawValue)) out[key] = merge(defValue, rawValue, `${full}.`, problems);
      else problems.push(`${full}: expected a section (mapping)`);
    } else {
      out[key] = checkValue(full, coerce(rawValue, defValue), defValue, problems);
    }
  }
  return out;
}

function checkModels(config: Raw, problems: string[]): void {
  const models = config['models'] as Raw;
  const list = models['list'];
  if (!Array.isArray(list)) return;
  for (const [index, entry] of list.entries()) {
    if (
      !isObject(entry) ||
      typeof entry['name'] !== 'string' ||
      typeof entry['path'] !== 'string'
    ) {
      problems.push(`models.list[${index}]: expected { name, path } strings`);
      continue;
    }
    if (!/^[a-zA-Z0-9._-]{1,64}$/.test(entry['name'])) {
      problems.push(`models.list[${index}].name: letters, digits, '.', '_' and '-' only`);
    }
    const keepAlive = entry['keepAliveSeconds'];
    if (keepAlive !== undefined && (!Number.isInteger(keepAlive) || (keepAlive as number) < -1)) {
      problems.push(
        `models.list[${index}].keepAliveSeconds: must be an integer ≥ -1, got ${JSON.stringify(keepAlive)}`,
      );
    }
    const cost = entry['cost'];
    if (cost !== undefined && (!Number.isInteger(cost) || (cost as number) < 0)) {
      problems.push(
        `models.list[${index}].cost: must be an integer ≥ 0, got ${JSON.stringify(cost)}`,
      );
    }
    const quantization = entry['quantization'];
    if (quantization !== undefined && parseQuantization(quantization) === undefined) {
      problems.push(
        `models.list[${index}].quantization: one of ${QUANTIZATION_SPELLINGS.join(', ')}, got ${JSON.stringify(quantization)}`,
      );
    }
    const lowMemory = entry['lowMemory'];
    if (lowMemory !== undefined && typeof lowMemory !== 'boolean') {
      problems.push(
        `models.list[${index}].lowMemory: true or false, got ${JSON.stringify(lowMemory)}`,
      );
    }
    checkOverrides(entry['overrides'], `models.list[${index}].overrides`, problems);
    checkComponents(entry['components'], `models.list[${index}].components`, problems);
    checkTokenizers(entry['tokenizers'], `models.list[${index}].tokenizers`, problems);
    checkAliases(entry['aliases'], `models.list[${index}].aliases`, problems);
  }
  checkNamesUnique(list, problems);
  // The default may also be a library model (models.dir), found only at start: not checked here.
  const budget = (config['workers'] as Raw)['memoryBudgetGb'];
  if (typeof budget === 'number' && !(budget >= 0)) {
    problems.push(
      `workers.memoryBudgetGb: must be ≥ 0 (0: three quarters of memory), got ${budget}`,
    );
  }
  const origins = (config['server'] as Raw)['corsOrigins'];
  if (Array.isArray(origins)) {
    for (const origin of origins) {
      if (origin !== '*' && !isOrigin(origin))
        problems.push(
          `server.corsOrigins: '${String(origin)}' is not an origin (scheme://host[:port], no path) or '*'`,
        );
    }
  }
  const devices = (config['workers'] as Raw)['devices'];
  if (Array.isArray(devices)) {
    if (devices.length === 0) problems.push('workers.devices: at least one device');
    for (const device of devices) {
      if (!DEVICES.includes(device as string)) {
        problems.push(`workers.devices: '${String(device)}' is not one of ${DEVICES.join(', ')}`);
      }
    }
  }
}

/** `https://app.example.com` or `http://localhost:3000`: what a browser sends as `Origin`. */
function isOrigin(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

/** Pictor's own folder (the package root), where the bundled `models/tiny` is. */
const PACKAGE_ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * A model path from the working directory; one not there but in Pictor's own folder is that one
 * (the default `models/tiny` when Pictor runs from an installed package in another folder).
 */
function modelPath(cwd: string, given: string): string {
  const local = path.resolve(cwd, given);
  if (path.isAbsolute(given) || existsSync(local)) return local;
  const bundled = path.resolve(PACKAGE_ROOT, given);
  return existsSync(bundled) ? bundled : local;
}

/** The settings of the cluster's shared services, which only make sense together. */
function checkSharedServices(config: Raw, problems: string[]): void {
  const storage = config['storage'] as { blobs: unknown; s3: Record<string, unknown> };
  const database = config['database'] as Raw;
  if (storage.blobs === 'postgres' && database['driver'] !== 'postgres') {
    problems.push(
      'storage.blobs: postgres keeps blobs in the database, so database.driver must be postgres',
    );
  }
  if (storage.blobs === 's3' && storage.s3['bucket'] === '') {
    problems.push('storage.s3.bucket: required when storage.blobs is s3');
  }
  if ((storage.s3['accessKeyId'] === '') !== (storage.s3['secretAccessKey'] === '')) {
    problems.push('storage.s3: give both accessKeyId and secretAccessKey, or neither');
  }
  const endpoint = storage.s3['endpoint'];
  if (typeof endpoint === 'string' && endpoint !== '' && !/^https?:\/\/[^\s/]+/.test(endpoint)) {
    problems.push(
      `storage.s3.endpoint: an http:// or https:// URL, got ${JSON.stringify(endpoint)}`,
    );
  }
  const redis = (config['redis'] as Raw)['url'];
  if (typeof redis === 'string' && redis !== '' && !/^rediss?:\/\/\S+$/.test(redis)) {
    problems.push('redis.url: a redis:// or rediss:// URL');
  }
}

const POSITIVE_INTEGERS = ['width', 'height', 'steps', 'clipSkip'];

function checkOverrides(overrides: unknown, where: string, problems: string[]): void {
  if (overrides === undefined) return;
  if (!isObject(overrides)) {
    problems.push(`${where}: expected an object`);
    return;
  }
  for (const [key, value] of Object.entries(overrides)) {
    const ok =
      key === 'predictionType'
        ? value === 'epsilon' || value === 'v_prediction'
        : key === 'scheduler'
          ? typeof value === 'string'
          : key === 'guidanceScale'
            ? typeof value === 'number' && value >= 0
            : key === 't5'
              ? typeof value === 'boolean'
              : key === 'vae'
                ? typeof value === 'string' && value !== ''
                : POSITIVE_INTEGERS.includes(key) &&
                  Number.isInteger(value) &&
                  (value as number) > 0;
    if (!ok)
      problems.push(`${where}.${key}: ${overrideExpectation(key)}, got ${JSON.stringify(value)}`);
  }
}

function overrideExpectation(key: string): string {
  if (key === 'predictionType') return "'epsilon' or 'v_prediction'";
  if (key === 'scheduler') return 'a scheduler name';
  if (key === 'guidanceScale') return 'a number ≥ 0';
  if (key === 't5') return 'true or false';
  if (key === 'vae') return 'the path of a VAE .safetensors file';
  if (POSITIVE_INTEGERS.includes(key)) return 'an integer > 0';
  return `not a setting (predictionType, scheduler, width, height, steps, guidanceScale, t5, clipSkip, vae)`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Merges raw layers (already in priority order, later wins) over the defaults, reports every
 * problem at once, resolves paths against `cwd`, and returns a deeply frozen config.
 */
export function validateConfig(layers: readonly Raw[], cwd: string): PictorConfig {
  const problems: string[] = [];
  let merged: Raw = DEFAULT_CONFIG as unknown as Raw;
  for (const layer of layers) merged = merge(merged, layer, '', problems);
  checkModels(merged, problems);
  checkSharedServices(merged, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const config = structuredClone(merged) as unknown as {
    -readonly [K in keyof PictorConfig]: PictorConfig[K];
  };
  config.dataDir = path.resolve(cwd, config.dataDir);
  config.models = {
    ...config.models,
    list: config.models.list.map((m) => ({
      name: m.name,
      path: modelPath(cwd, m.path),
      ...(m.cost === undefined ? {} : { cost: m.cost }),
      ...(m.keepAliveSeconds === undefined ? {} : { keepAliveSeconds: m.keepAliveSeconds }),
      ...(m.quantization === undefined ? {} : { quantization: parseQuantization(m.quantization) }),
      ...(m.lowMemory === undefined ? {} : { lowMemory: m.lowMemory }),
      ...(m.aliases === undefined ? {} : { aliases: [...m.aliases] }),
      ...(m.components === undefined
        ? {}
        : {
            components: Object.fromEntries(
              Object.entries(m.components).map(([role, file]) => [role, path.resolve(cwd, file)]),
            ),
          }),
      ...(m.tokenizers === undefined
        ? {}
        : {
            tokenizers: Object.fromEntries(
              Object.entries(m.tokenizers).map(([role, dir]) => [role, path.resolve(cwd, dir)]),
            ),
          }),
      ...(m.overrides === undefined
        ? {}
        : {
            overrides: {
              ...m.overrides,
              ...(m.overrides.vae === undefined ? {} : { vae: path.resolve(cwd, m.overrides.vae) }),
            },
          }),
    })),
    dir: path.resolve(config.dataDir, config.models.dir),
    dirs: config.models.dirs.map((dir) => path.resolve(cwd, dir)),
  };
  config.workers = {
    ...config.workers,
    memoryBudgetGb: config.workers.memoryBudgetGb || (os.totalmem() * 0.75) / 1024 ** 3,
  };
  const hf = config.sources.huggingFace;
  config.sources = {
    ...config.sources,
    huggingFace: {
      ...hf,
      endpoint: hf.endpoint.replace(/\/+$/, ''),
      cacheDir:
        hf.cacheDir === ''
          ? path.join(os.homedir(), '.cache', 'huggingface', 'hub')
          : path.resolve(cwd, hf.cacheDir),
    },
    civitai: {
      ...config.sources.civitai,
      endpoint: config.sources.civitai.endpoint.replace(/\/+$/, ''),
    },
  };
  if (config.log.file !== '') {
    if (!config.log.file.endsWith('.log'))
      throw new ConfigError([`log.file: must end in .log, got ${JSON.stringify(config.log.file)}`]);
    config.log = { ...config.log, file: path.resolve(config.dataDir, config.log.file) };
  }
  if (config.database.driver === 'sqlite' && config.database.url !== ':memory:') {
    config.database = {
      ...config.database,
      url: path.resolve(config.dataDir, config.database.url),
    };
  }
  if (config.adminKey !== '' && !/^[\x21-\x7e]{24,256}$/.test(config.adminKey)) {
    throw new ConfigError(['adminKey: 24 to 256 printable characters without spaces']);
  }
  if (config.database.driver === 'postgres' && !/^postgres(ql)?:\/\//.test(config.database.url)) {
    throw new ConfigError([
      'database.url: a postgres:// URL is required when database.driver is postgres',
    ]);
  }
  return deepFreeze(config);
}

/** `components`: an object of known roles, each a file path (resolved against the working directory). */
function checkComponents(components: unknown, where: string, problems: string[]): void {
  if (components === undefined) return;
  if (!isObject(components)) {
    problems.push(`${where}: expected an object of ${COMPONENT_ROLES.join(', ')} file paths`);
    return;
  }
  for (const [role, file] of Object.entries(components)) {
    if (!(COMPONENT_ROLES as readonly string[]).includes(role)) {
      problems.push(`${where}.${role}: not a component (${COMPONENT_ROLES.join(', ')})`);
    } else if (typeof file !== 'string' || file === '') {
      problems.push(
        `${where}.${role}: the path of a .safetensors file, got ${JSON.stringify(file)}`,
      );
    }
  }
}

/**
 * `tokenizers`: an object of known encoders, each a folder path (resolved against the working
 * directory). Whether the folder holds a `tokenizer.json` is checked where the model's files
 * are, by the worker that serves it (an API node of a cluster need not have them).
 */
function checkAliases(aliases: unknown, where: string, problems: string[]): void {
  if (aliases === undefined) return;
  if (!Array.isArray(aliases)) {
    problems.push(`${where}: expected a list of names`);
    return;
  }
  for (const alias of aliases) {
    if (typeof alias !== 'string' || !MODEL_ALIAS_PATTERN.test(alias))
      problems.push(
        `${where}: ${JSON.stringify(alias)} is not a model name (letters, digits, '.', '_', '-', one '/' as in org/repo)`,
      );
  }
}

/** A name or alias means one model: a second use would make requests ambiguous. */
function checkNamesUnique(list: readonly unknown[], problems: string[]): void {
  const owner = new Map<string, string>();
  for (const [index, entry] of list.entries()) {
    if (!isObject(entry) || typeof entry['name'] !== 'string') continue;
    const aliases: unknown[] = Array.isArray(entry['aliases'])
      ? (entry['aliases'] as unknown[])
      : [];
    for (const [i, name] of [entry['name'], ...aliases].entries()) {
      if (typeof name !== 'string') continue;
      const where = i === 0 ? `models.list[${index}].name` : `models.list[${index}].aliases`;
      const first = owner.get(name);
      if (first !== undefined) problems.push(`${where}: '${name}' is already ${first}`);
      else
        owner.set(
          name,
          i === 0 ? `models.list[${index}].name` : `an alias of models.list[${index}]`,
        );
    }
  }
}

function checkTokenizers(tokenizers: unknown, where: string, problems: string[]): void {
  if (tokenizers === undefined) return;
  if (!isObject(tokenizers)) {
    problems.push(`${where}: expected an object of ${TOKENIZER_ROLES.join(', ')} folder paths`);
    return;
  }
  for (const [role, dir] of Object.entries(tokenizers)) {
    if (!(TOKENIZER_ROLES as readonly string[]).includes(role)) {
      problems.push(`${where}.${role}: not a tokenizer (${TOKENIZER_ROLES.join(', ')})`);
    } else if (typeof dir !== 'string' || dir === '') {
      problems.push(
        `${where}.${role}: the path of a folder holding tokenizer.json, got ${JSON.stringify(dir)}`,
      );
    }
  }
}
