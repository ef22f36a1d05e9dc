// models.list[].tokenizers: T5's and Qwen3's tokenizer folders by encoder, resolved against the
// working directory; an unknown encoder or a non-path is reported naming the setting. (Whether
// the folder holds a tokenizer.json is the worker's check: test/server/model-tokenizers.e2e.test.ts.)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

const folders: string[] = [];
after(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function configWith(tokenizers: string): {
  cwd: string;
  load: () => ReturnType<typeof loadConfig>;
} {
  const cwd = mkdtempSync(path.join(tmpdir(), 'pictor-tokenizers-'));
  folders.push(cwd);
  writeFileSync(
    path.join(cwd, 'pictor.yaml'),
    `models:\n  default: flux\n  list:\n    - name: flux\n      path: flux1-dev.safetensors\n      tokenizers: ${tokenizers}\n`,
  );
  return { cwd, load: () => loadConfig({ cwd, env: {} }) };
}

test('tokenizer folders are carried through, each path made absolute', () => {
  const { cwd, load } = configWith('{ t5: FLUX.1-dev/tokenizer_2, qwen3: /models/qwen3-tok }');
  const [model] = load().models.list;
  assert.deepEqual(model?.tokenizers, {
    t5: path.join(cwd, 'FLUX.1-dev/tokenizer_2'),
    qwen3: '/models/qwen3-tok',
  });
  assert.equal(configWith('{}').load().models.list[0]?.tokenizers?.t5, undefined);
});

test('an unknown encoder or a non-path is reported naming the setting', () => {
  assert.throws(
    () => configWith('{ clip: a, t5: 3, qwen3: "" }').load(),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.message,
        /models\.list\[0\]\.tokenizers\.clip: not a tokenizer \(t5, qwen3\)/,
      );
      assert.match(
        error.message,
        /models\.list\[0\]\.tokenizers\.t5: the path of a folder holding tokenizer\.json, got 3/,
      );
      assert.match(error.message, /models\.list\[0\]\.tokenizers\.qwen3: the path of a folder/);
      return true;
    },
  );
  assert.throws(() => configWith('tokenizer_2').load(), /tokenizers: expected an object/);
});
