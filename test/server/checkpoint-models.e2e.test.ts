// Checkpoint files through the server: a bad or not-yet-runnable one is reported on its model,
// the worker survives it, and the other models keep serving (real ONNX engine, real HTTP).
import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pictor } from '../../src/cli/compose.ts';
import { realCheckpointTensors } from '../helpers/checkpoint-headers.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';
import { writeSafetensors } from '../helpers/safetensors-files.ts';

describe('checkpoint models beside a working one', () => {
  let pictor: Pictor;
  let base: string;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pictor-checkpoint-server-'));
    const broken = path.join(dir, 'broken.safetensors');
    await writeSafetensors(broken, realCheckpointTensors('sd15'), { sparse: true });
    await truncate(broken, 1_000_000);
    const lora = path.join(dir, 'style-lora.safetensors');
    await writeSafetensors(lora, [
      {
        name: 'lora_unet_mid_block_attentions_0_proj_in.lora_up.weight',
        dtype: 'F16',
        shape: [4, 4],
      },
    ]);
    pictor = await startPictor(
      testConfig({
        PICTOR_WORKERS__ENGINE: 'onnx',
        PICTOR_WORKERS__INTRA_OP_THREADS: '1',
        PICTOR_MODELS__DEFAULT: 'tiny',
        PICTOR_MODELS__LIST: JSON.stringify([
          { name: 'broken', path: broken },
          { name: 'lora', path: lora },
          { name: 'tiny', path: 'models/tiny' },
        ]),
      }),
    );
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await pictor.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('each bad file is reported on its own model, naming the file and the problem', async () => {
    const { data } = (await (await fetch(`${base}/v1/models`)).json()) as {
      data: { name: string; available: boolean; error: string | null }[];
    };
    const model = (name: string) => data.find((entry) => entry.name === name) ?? assert.fail(name);
    const broken = model('broken');
    assert.equal(broken.available, false);
    assert.match(
      broken.error ?? '',
      /broken\.safetensors is not a usable \.safetensors file: it is truncated/,
    );
    const lora = model('lora');
    assert.equal(lora.available, false);
    assert.match(lora.error ?? '', /style-lora\.safetensors is a LoRA, not a checkpoint/);
    assert.equal(model('tiny').available, true);
  });

  test('the worker that refused them still generates with the good model', async () => {
    const response = await fetch(`${base}/v1/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a red circle on a blue background', steps: 2, seed: 1 }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { status: string; image: string };
    assert.equal(body.status, 'completed');
    assert.ok(body.image.length > 100);
  });
});
