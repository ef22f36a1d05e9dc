// models.list[].components: a transformer-only file's text encoder and VAE files, given by role,
// resolved against the working directory; unknown roles and non-paths are reported by name.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

function configWith(components: string): {
  cwd: string;
  load: () => ReturnType<typeof loadConfig>;
} {
  const cwd = mkdtempSync(path.join(tmpdir(), 'pictor-components-'));
  writeFileSync(
    path.join(cwd, 'pictor.yaml'),
    `models:\n  default: sd35\n  list:\n    - name: sd35\n      path: diffusion_models/sd3.5_medium.safetensors\n      components: ${components}\n`,
  );
  return { cwd, load: () => loadConfig({ cwd, env: {} }) };
}

test('components are carried through, each path made absolute', () => {
  const { cwd, load } = configWith(
    '{ clipL: text_encoders/clip_l.safetensors, clipG: text_encoders/clip_g.safetensors, t5: /models/t5xxl_fp16.safetensors, vae: vae/sd3_vae.safetensors }',
  );
  const [model] = load().models.list;
  assert.deepEqual(model?.components, {
    clipL: path.join(cwd, 'text_encoders/clip_l.safetensors'),
    clipG: path.join(cwd, 'text_encoders/clip_g.safetensors'),
    t5: '/models/t5xxl_fp16.safetensors',
    vae: path.join(cwd, 'vae/sd3_vae.safetensors'),
  });
});

test('an unknown role or a non-path is reported naming it', () => {
  assert.throws(
    () => configWith('{ clip_l: a.safetensors, vae: 3 }').load(),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.message,
        /models\.list\[0\]\.components\.clip_l: not a component \(clipL, clipG, t5, qwen3, vae\)/,
      );
      assert.match(
        error.message,
        /models\.list\[0\]\.components\.vae: the path of a \.safetensors file, got 3/,
      );
      return true;
    },
  );
  assert.throws(() => configWith('yes').load(), /components: expected an object/);
});
