import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../../src/config/index.ts';

const dir = (): string => mkdtempSync(path.join(tmpdir(), 'pictor-config-'));

test('defaults apply when nothing is configured, with paths resolved and the object frozen', () => {
  const cwd = dir();
  const config = loadConfig({ cwd, env: {} });
  assert.equal(config.server.port, DEFAULT_CONFIG.server.port);
  assert.equal(config.dataDir, path.join(cwd, 'pictor-data'));
  assert.equal(config.database.url, path.join(cwd, 'pictor-data', 'pictor.db'));
  // Not in the working directory: the bundled model in Pictor's own folder.
  assert.equal(config.models.list[0]?.path, path.resolve(import.meta.dirname, '../../models/tiny'));
  assert.equal(config.log.file, path.join(cwd, 'pictor-data', 'logs', 'pictor.log'));
  assert.ok(Object.isFrozen(config.server));
  assert.throws(() => {
    (config.server as { port: number }).port = 1;
  });
});

test('layers: yaml < PICTOR_* env (with __ nesting) < flags', () => {
  const cwd = dir();
  writeFileSync(
    path.join(cwd, 'pictor.yaml'),
    'server:\n  port: 7000\n  host: 0.0.0.0\nqueue:\n  maxBatch: 2\nmodels:\n  default: sd\n  list:\n    - { name: sd, path: ./m/sd }\n',
  );
  const config = loadConfig({
    cwd,
    env: { PICTOR_SERVER__PORT: '9000', PICTOR_QUEUE__MAX_QUEUED: '5', PICTOR_DATA_DIR: '/tmp/x' },
    flags: { 'server.host': '127.0.0.2' },
  });
  assert.equal(config.server.port, 9000);
  assert.equal(config.server.host, '127.0.0.2');
  assert.equal(config.queue.maxBatch, 2);
  assert.equal(config.queue.maxQueued, 5);
  assert.equal(config.dataDir, '/tmp/x');
  assert.equal(config.models.default, 'sd');
  assert.equal(config.models.list[0]?.path, path.join(cwd, 'm/sd'));
});

test('every problem is reported at once, without a stack in the message', () => {
  const error = (() => {
    try {
      loadConfig({
        cwd: dir(),
        env: {
          PICTOR_SERVER__PORT: 'abc',
          PICTOR_QUEUE__MAX_BATCH: '0',
          PICTOR_NOPE: '1',
          PICTOR_LOG__LEVEL: 'loud',
        },
      });
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(error instanceof ConfigError);
  assert.equal(error.problems.length, 4, error.message);
  assert.match(error.message, /server\.port/);
  assert.match(error.message, /queue\.maxBatch/);
  assert.match(error.message, /nope: unknown setting/);
  assert.match(error.message, /log\.level/);
});

test('a default model outside the list may be a library model; a broken yaml is refused clearly', () => {
  // models.dir is scanned at start: the server warns then if the default is nowhere.
  assert.equal(
    loadConfig({ cwd: dir(), env: { PICTOR_MODELS__DEFAULT: 'pulled' } }).models.default,
    'pulled',
  );
  const cwd = dir();
  writeFileSync(path.join(cwd, 'pictor.yaml'), 'server: [\n');
  assert.throws(() => loadConfig({ cwd, env: {} }), ConfigError);
  assert.throws(() => loadConfig({ cwd: dir(), env: {}, file: 'missing.yaml' }), /does not exist/);
});

test('the Hugging Face and CivitAI variables their own tools read configure the sources', () => {
  const cwd = dir();
  const hf = loadConfig({
    cwd,
    env: {
      HF_HOME: '/srv/hf',
      HF_TOKEN: 'hf_x',
      HF_ENDPOINT: 'http://mirror/',
      CIVITAI_TOKEN: 'c',
    },
  }).sources;
  assert.equal(hf.huggingFace.cacheDir, '/srv/hf/hub');
  assert.equal(hf.huggingFace.token, 'hf_x');
  assert.equal(hf.huggingFace.endpoint, 'http://mirror');
  assert.equal(hf.civitai.token, 'c');
  const both = loadConfig({ cwd, env: { HF_HOME: '/srv/hf', HF_HUB_CACHE: '/cache' } });
  assert.equal(both.sources.huggingFace.cacheDir, '/cache');
  assert.match(
    loadConfig({ cwd, env: {} }).sources.huggingFace.cacheDir,
    /\.cache\/huggingface\/hub$/,
  );
  assert.equal(loadConfig({ cwd, env: { PICTOR_DATA_DIR: '/d' } }).models.dir, '/d/models');
  assert.ok(loadConfig({ cwd, env: {} }).workers.memoryBudgetGb > 0);
});

test('log.file: under the data dir, empty for standard output only, a .log name', () => {
  const cwd = dir();
  assert.equal(loadConfig({ cwd, env: { PICTOR_LOG__FILE: '' } }).log.file, '');
  assert.equal(
    loadConfig({ cwd, env: { PICTOR_DATA_DIR: '/srv/p', PICTOR_LOG__FILE: 'l/server.log' } }).log
      .file,
    '/srv/p/l/server.log',
  );
  assert.throws(
    () => loadConfig({ cwd, env: { PICTOR_LOG__FILE: 'server.txt' } }),
    (error: unknown) =>
      error instanceof ConfigError && /log\.file: must end in \.log/.test(error.message),
  );
  assert.throws(
    () => loadConfig({ cwd, env: { PICTOR_LOG__FILE_KEEP: '0' } }),
    /log\.fileKeep: must be an integer from 1 to 1000/,
  );
});
