import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

function configWith(overrides: string) {
  const cwd = mkdtempSync(path.join(tmpdir(), 'pictor-overrides-'));
  writeFileSync(
    path.join(cwd, 'pictor.yaml'),
    `models:\n  default: sd\n  list:\n    - name: sd\n      path: ./sd21.safetensors\n      overrides: ${overrides}\n`,
  );
  return loadConfig({ cwd, env: {} });
}

test('models.list[].overrides are carried through, frozen', () => {
  const config = configWith(
    '{ predictionType: v_prediction, scheduler: dpmpp_2m, width: 768, height: 768, steps: 25, guidanceScale: 6.5, t5: false }',
  );
  const [model] = config.models.list;
  assert.deepEqual(model?.overrides, {
    predictionType: 'v_prediction',
    scheduler: 'dpmpp_2m',
    width: 768,
    height: 768,
    steps: 25,
    guidanceScale: 6.5,
    t5: false,
  });
  assert.ok(Object.isFrozen(model?.overrides));
});

test('bad overrides are each reported, naming the setting', () => {
  assert.throws(
    () =>
      configWith(
        '{ predictionType: sample, steps: 0, width: 7.5, guidanceScale: -1, clipskip: 2, t5: no-thanks }',
      ),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      for (const pattern of [
        /models\.list\[0\]\.overrides\.predictionType: 'epsilon' or 'v_prediction', got "sample"/,
        /overrides\.steps: an integer > 0, got 0/,
        /overrides\.width: an integer > 0, got 7\.5/,
        /overrides\.guidanceScale: a number ≥ 0, got -1/,
        /overrides\.clipskip: not a setting/,
        /overrides\.t5: true or false, got "no-thanks"/,
      ]) {
        assert.match(error.message, pattern);
      }
      return true;
    },
  );
  assert.throws(() => configWith('fast'), /models\.list\[0\]\.overrides: expected an object/);
});

function configWithQuantization(values: readonly string[]) {
  const cwd = mkdtempSync(path.join(tmpdir(), 'pictor-quantization-'));
  const entries = values.map(
    (q, i) => `    - name: m${i}\n      path: ./m${i}.safetensors\n      quantization: ${q}\n`,
  );
  writeFileSync(
    path.join(cwd, 'pictor.yaml'),
    `models:\n  default: m0\n  list:\n${entries.join('')}`,
  );
  return loadConfig({ cwd, env: {} });
}

test("models.list[].quantization: none, int8, int4, and Scratchy's 8bit/4bit as int8/int4", () => {
  const config = configWithQuantization(['none', 'int8', 'int4', '8bit', '4bit']);
  assert.deepEqual(
    config.models.list.map((m) => m.quantization),
    ['none', 'int8', 'int4', 'int8', 'int4'],
  );
});

test('a bad quantization is reported naming the model entry and the accepted values', () => {
  assert.throws(
    () => configWithQuantization(['int8', 'fp8']),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.message,
        /models\.list\[1\]\.quantization: one of none, int8, int4, 8bit, 4bit, got "fp8"/,
      );
      return true;
    },
  );
});

test('overrides.clipSkip and overrides.vae: the VAE path resolved against the config folder', () => {
  const config = configWith('{ clipSkip: 2, vae: ./vae/fix.safetensors }');
  const [model] = config.models.list;
  assert.equal(model?.overrides?.clipSkip, 2);
  assert.ok(path.isAbsolute(model?.overrides?.vae ?? ''));
  assert.match(model?.overrides?.vae ?? '', /\/vae\/fix\.safetensors$/);
  assert.throws(
    () => configWith('{ clipSkip: 0, vae: "" }'),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /overrides\.clipSkip: an integer > 0, got 0/);
      assert.match(error.message, /overrides\.vae: the path of a VAE \.safetensors file, got ""/);
      return true;
    },
  );
});
