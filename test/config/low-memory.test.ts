// Low-memory mode is set per worker (`workers.lowMemory`) and per model (`models.list[].lowMemory`),
// validated once here; a model's own setting wins over the worker default.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

function configFrom(yaml: string, env: Record<string, string> = {}) {
  const cwd = mkdtempSync(path.join(tmpdir(), 'pictor-low-memory-'));
  writeFileSync(path.join(cwd, 'pictor.yaml'), yaml);
  return loadConfig({ cwd, env });
}

const models = (entries: string): string =>
  `models:\n  default: a\n  list:\n    - name: a\n      path: ./a.safetensors\n${entries}`;

test('workers.lowMemory is off by default; the file and PICTOR_WORKERS__LOW_MEMORY turn it on', () => {
  assert.equal(configFrom(models('')).workers.lowMemory, false);
  assert.equal(configFrom(`workers:\n  lowMemory: true\n${models('')}`).workers.lowMemory, true);
  assert.equal(
    configFrom(models(''), { PICTOR_WORKERS__LOW_MEMORY: 'true' }).workers.lowMemory,
    true,
  );
});

test('models.list[].lowMemory is carried per model, absent where unset', () => {
  const config = configFrom(
    models(
      '      lowMemory: true\n    - name: b\n      path: ./b.safetensors\n      lowMemory: false\n    - name: c\n      path: ./c.safetensors\n',
    ),
  );
  assert.deepEqual(
    config.models.list.map((m) => m.lowMemory),
    [true, false, undefined],
  );
});

test('a lowMemory that is not a boolean is refused naming where', () => {
  assert.throws(
    () => configFrom(models('      lowMemory: sometimes\n')),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /models\.list\[0\]\.lowMemory: true or false, got "sometimes"/);
      return true;
    },
  );
  assert.throws(() => configFrom(`workers:\n  lowMemory: 3\n${models('')}`), /workers\.lowMemory/);
});
