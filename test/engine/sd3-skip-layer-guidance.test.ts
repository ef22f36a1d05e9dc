// Skip-layer guidance on the tiny SD 3.5 Medium fixture against references made by
// scripts/fixtures/make-sd3-slg-fixtures.py: the MMDiT with a block left out matches
// `MMDiTX(skip_layers=[i])` (which, like diffusers' SD3Transformer2DModel, hands both streams past
// it), and a 6-step run matches diffusers' StableDiffusion3Pipeline loop (CFG, then on the steps
// in its window the prompt row again with the layers skipped, added at the guidance scale). Then
// the loaded pipeline: what it refuses, naming the field, and what it changes.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { buildMmdit, mmditShape } from '../../src/engine/checkpoint/graphs/mmdit.ts';
import { readCheckpoint } from '../../src/engine/checkpoint/read-checkpoint.ts';
import type { TensorIndex } from '../../src/engine/checkpoint/tensor-ref.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { OnnxModel } from '../../src/engine/onnx/onnx-model.ts';
import type { DiffusionPipeline } from '../../src/engine/pipeline/diffusion-pipeline.ts';
import { loadCheckpointPipeline } from '../../src/engine/pipeline/load-checkpoint.ts';
import { UnetRunner } from '../../src/engine/pipeline/unet-runner.ts';
import { FlowMatchEulerScheduler } from '../../src/engine/schedulers/flow-match-euler.ts';
import {
  assertClose,
  CHECKPOINTS,
  componentIndex,
  floatTensor,
  readReferences,
  reference,
  sessionFor,
  type ReferenceTensor,
} from '../helpers/checkpoint-graphs.ts';
import { writeTinySd35MediumFolder } from '../helpers/sd3-folder.ts';

const MEDIUM = path.join(CHECKPOINTS, 'tiny-sd35-medium.safetensors');
let refs: Map<string, ReferenceTensor>;
let medium: TensorIndex;
let dir: string;
let pipeline: DiffusionPipeline;

before(async () => {
  refs = await readReferences(path.join(CHECKPOINTS, 'tiny-sd35-medium-slg.reference.safetensors'));
  medium = await componentIndex(MEDIUM, 'model.diffusion_model.');
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-sd3-slg-'));
  const folder = await writeTinySd35MediumFolder(path.join(dir, 'tiny-sd35-medium'));
  const source = await readCheckpoint(folder, { preferHalf: false });
  assert.ok(source);
  pipeline = await loadCheckpointPipeline(folder, source, { intraOpThreads: 1 });
});
after(async () => {
  await pipeline.dispose();
  await rm(dir, { recursive: true, force: true });
});

const ref = (name: string): ReferenceTensor => reference(refs, name);
const floats = (name: string): Float32Array => ref(name).data as Float32Array;

test('the MMDiT with a block skipped matches MMDiTX(skip_layers=[i]); zeros run every block', async () => {
  const session = await sessionFor(buildMmdit(medium).bytes);
  const depth = mmditShape(medium).depth;
  const inputs = {
    sample: floatTensor(ref('slg.velocity.sample')),
    timestep: floatTensor(ref('slg.velocity.timestep')),
    encoder_hidden_states: floatTensor(ref('slg.velocity.encoder_hidden_states')),
    text_embeds: floatTensor(ref('slg.velocity.text_embeds')),
  };
  const mask = (skipped: number[]): ort.Tensor =>
    new ort.Tensor(
      'float32',
      Float32Array.from({ length: depth }, (_, index) => (skipped.includes(index) ? 1 : 0)),
      [depth],
    );
  for (const [name, skipped] of [
    ['all', []],
    ['skip0', [0]],
    ['skip1', [1]],
  ] as const) {
    const outputs = await session.run({ ...inputs, skip_layers: mask([...skipped]) });
    assertClose(outputs['out_sample'], ref(`slg.velocity.${name}`), name);
  }
});

test("a 6-step run with skip-layer guidance matches diffusers' StableDiffusion3Pipeline loop", async () => {
  const mmdit = await OnnxModel.fromBytes(buildMmdit(medium).bytes, 'unet', {
    source: MEDIUM,
    intraOpThreads: 1,
  });
  try {
    const scheduler = new FlowMatchEulerScheduler({
      _class_name: 'FlowMatchEulerDiscreteScheduler',
      shift: 3.0,
    });
    const steps = 6;
    scheduler.setTimesteps(steps);
    const sigmas = floats('slg.sigmas');
    scheduler.sigmas.forEach((sigma, index) =>
      assert.ok(Math.abs(sigma - (sigmas[index] ?? 0)) < 1e-6, `σ${index} ${sigma}`),
    );
    const [guidanceScale = 0, scale, start, stop] = floats('slg.settings');
    const run = async (skip: boolean): Promise<Float32Array> => {
      const runner = new UnetRunner(mmdit, {
        batch: 1,
        latentChannels: 16,
        latentHeight: 8,
        latentWidth: 8,
        conditioning: {
          hiddenStates: floats('slg.context'),
          sequenceLength: 154,
          hiddenSize: 128,
          pooled: floats('slg.pooled'),
          pooledSize: 96,
        },
        guidanceScale,
        classifierFree: true,
        inpaint: undefined,
        timeIds: undefined,
        timestepCond: undefined,
        rotaryAxes: undefined,
        skipLayerGuidance: skip
          ? { layers: [1], scale: scale ?? 0, start: start ?? 0, stop: stop ?? 0 }
          : undefined,
      });
      let latents = Float32Array.from(floats('slg.noise'));
      for (let index = 0; index < steps; index++) {
        const velocity = await runner.predict(latents, scheduler.timesteps[index] ?? 0, {
          index,
          count: steps,
        });
        latents = scheduler.step(velocity, index, latents, () => new Float32Array()).slice();
      }
      return latents;
    };
    const tensor = (data: Float32Array): ort.Tensor =>
      new ort.Tensor('float32', data, [1, 16, 8, 8]);
    const guided = await run(true);
    assertClose(tensor(guided), ref('slg.latent'), 'with skip-layer guidance');
    assertClose(tensor(await run(false)), ref('slg.cfg_only.latent'), 'without');
    const moved = guided.some(
      (value, i) => Math.abs(value - (floats('slg.cfg_only.latent')[i] ?? 0)) > 1e-3,
    );
    assert.ok(moved, 'skip-layer guidance changes the latent');
  } finally {
    await mmdit.dispose();
  }
});

test('the pipeline applies it to SD3 (changing the image, deterministically) and refuses what it cannot run', async () => {
  const request = {
    prompt: 'a red circle',
    seed: 3,
    steps: 6,
    width: 32,
    height: 32,
    guidanceScale: 4.5,
  };
  const skipLayerGuidance = { layers: [1], stop: 0.6 };
  const [plain] = (await pipeline.generate(request)).images;
  const [guided] = (await pipeline.generate({ ...request, skipLayerGuidance })).images;
  const [again] = (await pipeline.generate({ ...request, skipLayerGuidance })).images;
  // diffusers' default window (0.01–0.2) holds no step of a 4-step run: the image is unchanged.
  const [outsideWindow] = (
    await pipeline.generate({ ...request, steps: 4, skipLayerGuidance: { layers: [1] } })
  ).images;
  const [fourPlain] = (await pipeline.generate({ ...request, steps: 4 })).images;
  assert.ok(plain && guided && again && outsideWindow && fourPlain);
  assert.ok(!guided.data.equals(plain.data), 'the skip pass changes the image');
  assert.ok(guided.data.equals(again.data), 'deterministic');
  const pixels = (png: Buffer): Promise<Buffer> => sharp(png).raw().toBuffer();
  assert.ok(
    (await pixels(outsideWindow.data)).equals(await pixels(fourPlain.data)),
    'no step in the window, no change',
  );
  assert.match(guided.infotext, /Skip layer guidance: layers 1 scale 2\.8 steps 0\.01-0\.6/);
  assert.doesNotMatch(plain.infotext, /Skip layer guidance/);

  const refused = async (extra: object, message: RegExp): Promise<void> =>
    assert.rejects(
      pipeline.generate({ ...request, ...extra }),
      (error: unknown) =>
        error instanceof EngineError &&
        error.code === 'INVALID_REQUEST' &&
        error.field === 'skip_layer_guidance' &&
        message.test(error.message),
    );
  await refused({ skipLayerGuidance: { layers: [7, 8, 9] } }, /blocks 0 to 1, not 7, 8, 9/);
  await refused({ skipLayerGuidance: { layers: [] } }, /distinct block indices/);
  await refused({ skipLayerGuidance: { layers: [1], start: 0.5, stop: 0.2 } }, /start ≤ stop/);
  await refused({ skipLayerGuidance: { layers: [1] }, guidanceScale: 1 }, /guidance_scale 1/);
});
