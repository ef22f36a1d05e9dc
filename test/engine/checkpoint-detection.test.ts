import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { singleFileComponents } from '../../src/engine/checkpoint/checkpoint-components.ts';
import {
  buildTextEncoder,
  buildUnet,
  buildVaeDecoder,
} from '../../src/engine/checkpoint/graphs/index.ts';
import { detectCheckpoint } from '../../src/engine/checkpoint/detect-checkpoint.ts';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { loadPipeline } from '../../src/engine/index.ts';
import { realCheckpointMetadata, realCheckpointTensors } from '../helpers/checkpoint-headers.ts';
import { float32Bytes, writeSafetensors, type TensorSpec } from '../helpers/safetensors-files.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-detect-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
/** Writes the tensors as a sparse file (real sizes, no weights) and detects it. */
async function detect(tensors: readonly TensorSpec[], metadata?: Record<string, string>) {
  const file = path.join(dir, `model-${counter++}.safetensors`);
  await writeSafetensors(file, tensors, { sparse: true, ...(metadata ? { metadata } : {}) });
  const read = await readSafetensors(file);
  return {
    file,
    index: read.index,
    layout: await detectCheckpoint(file, read.index, read.metadata),
  };
}

async function refused(
  tensors: readonly TensorSpec[],
  pattern: RegExp,
  code = 'MODEL_UNSUPPORTED',
) {
  await assert.rejects(detect(tensors), (error: unknown) => {
    assert.ok(error instanceof EngineError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, /model-\d+\.safetensors/);
    assert.match(error.message, pattern);
    return true;
  });
}

function replaced(tensors: TensorSpec[], name: string, change: Partial<TensorSpec>): TensorSpec[] {
  assert.ok(
    tensors.some((tensor) => tensor.name === name),
    name,
  );
  return tensors.map((tensor) => (tensor.name === name ? { ...tensor, ...change } : tensor));
}

const V_BIAS = 'model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias';
const CONV_IN = 'model.diffusion_model.input_blocks.0.0.weight';

test('SD 1.5 (real names and shapes) is an epsilon SD1 with CLIP-L and a VAE', async () => {
  const { layout } = await detect(realCheckpointTensors('sd15'));
  assert.deepEqual(layout, {
    family: 'sd1',
    predictionType: 'epsilon',
    unetInChannels: 4,
    textEncoders: ['clip-l'],
    hasVae: true,
  });
});

test('SD 2.1 768-v is v-prediction by the spread of its late norm bias; 512-base-like is epsilon', async () => {
  const tensors = realCheckpointTensors('sd21-768-v');
  const spread = Array.from({ length: 320 }, (_, i) => (i % 2 ? 0.15 : -0.15));
  const v = await detect(replaced(tensors, V_BIAS, { data: float32Bytes(spread) }));
  assert.equal(v.layout.family, 'sd2');
  assert.equal(v.layout.predictionType, 'v_prediction');
  assert.deepEqual(v.layout.textEncoders, ['openclip-h']);
  const narrow = spread.map((value) => value / 10);
  const eps = await detect(replaced(tensors, V_BIAS, { data: float32Bytes(narrow) }));
  assert.equal(eps.layout.predictionType, 'epsilon');
});

test('the real-shape SD 2.1 768-v header is v-prediction by its ModelSpec metadata alone', async () => {
  const tensors = realCheckpointTensors('sd21-768-v');
  const declared = await detect(tensors, realCheckpointMetadata('sd21-768-v'));
  assert.equal(declared.layout.family, 'sd2');
  assert.equal(declared.layout.predictionType, 'v_prediction');
  // Without metadata a header-only file says nothing (its all-zero bias has no spread).
  assert.equal((await detect(tensors)).layout.predictionType, 'epsilon');
  // Each tool's key is read; a declaration wins over the weights' spread.
  const spread = Array.from({ length: 320 }, (_, i) => (i % 2 ? 0.15 : -0.15));
  const wide = replaced(tensors, V_BIAS, { data: float32Bytes(spread) });
  const cases: [Record<string, string>, string][] = [
    [{ 'modelspec.predict_key': 'v' }, 'v_prediction'],
    [{ 'modelspec.prediction_type': 'epsilon' }, 'epsilon'],
    [{ ss_v_parameterization: 'True' }, 'v_prediction'],
    [{ 'modelspec.architecture': 'stable-diffusion-v2-768-v' }, 'v_prediction'],
    [{ 'modelspec.architecture': 'stable-diffusion-v2-512' }, 'epsilon'],
  ];
  for (const [metadata, expected] of cases) {
    const found = await detect(metadata['modelspec.prediction_type'] ? wide : tensors, metadata);
    assert.equal(found.layout.predictionType, expected, JSON.stringify(metadata));
  }
});

test('SDXL base has both encoders; a v_pred marker makes it v-prediction', async () => {
  const tensors = realCheckpointTensors('sdxl-base');
  const { layout } = await detect(tensors);
  assert.equal(layout.family, 'sdxl');
  assert.equal(layout.predictionType, 'epsilon');
  assert.deepEqual(layout.textEncoders, ['clip-l', 'openclip-bigg']);
  const marked = await detect([...tensors, { name: 'v_pred', dtype: 'F32', shape: [] }]);
  assert.equal(marked.layout.predictionType, 'v_prediction');
});

test('9-channel UNets are inpainting variants (and SD 2 inpainting stays epsilon)', async () => {
  const sd15 = await detect(
    replaced(realCheckpointTensors('sd15'), CONV_IN, { shape: [320, 9, 3, 3] }),
  );
  assert.equal(sd15.layout.unetInChannels, 9);
  const sd2 = replaced(realCheckpointTensors('sd21-768-v'), CONV_IN, { shape: [320, 9, 3, 3] });
  const wide = Array.from({ length: 320 }, (_, i) => (i % 2 ? 0.15 : -0.15));
  const inpaint = await detect(replaced(sd2, V_BIAS, { data: float32Bytes(wide) }));
  assert.equal(inpaint.layout.unetInChannels, 9);
  assert.equal(inpaint.layout.predictionType, 'epsilon');
});

test('a checkpoint without its VAE is detected as such; one without its text encoder is refused', async () => {
  const sd15 = realCheckpointTensors('sd15');
  const noVae = await detect(sd15.filter(({ name }) => !name.startsWith('first_stage_model.')));
  assert.equal(noVae.layout.hasVae, false);
  await refused(
    sd15.filter(({ name }) => !name.startsWith('cond_stage_model.')),
    /SD1 UNet but no clip-l text encoder \(no "cond_stage_model\.transformer\.\*" tensors\)/,
    'MODEL_INVALID',
  );
});

test('single-file components are split by prefix into the names the graph builders read', async () => {
  const { index, layout } = await detect(realCheckpointTensors('sdxl-base'));
  const components = singleFileComponents(index, layout);
  assert.deepEqual(components.unet.get('input_blocks.0.0.weight')?.shape, [320, 4, 3, 3]);
  assert.equal(components.unet.get('input_blocks.0.0.weight'), index.get(CONV_IN));
  assert.deepEqual(components.vae?.get('decoder.conv_in.weight')?.shape, [512, 4, 3, 3]);
  const [clipL, bigG] = components.textEncoders;
  assert.equal(clipL?.kind, 'clip-l');
  assert.ok(clipL?.index.has('text_model.encoder.layers.11.mlp.fc2.weight'));
  assert.equal(bigG?.kind, 'openclip-bigg');
  assert.deepEqual(
    bigG?.index.get('transformer.resblocks.31.attn.in_proj_weight')?.shape,
    [3840, 1280],
  );
  const count = (prefix: string) =>
    [...index.keys()].filter((name) => name.startsWith(prefix)).length;
  assert.equal(components.unet.size, count('model.diffusion_model.'));
  assert.equal(components.vae?.size, count('first_stage_model.'));
});

test("old SD1 files without Hugging Face's text_model level get it added", async () => {
  const old = realCheckpointTensors('sd15').map((tensor) => ({
    ...tensor,
    name: tensor.name.replace(
      'cond_stage_model.transformer.text_model.',
      'cond_stage_model.transformer.',
    ),
  }));
  const { index, layout } = await detect(old);
  const [clip] = singleFileComponents(index, layout).textEncoders;
  assert.ok(clip?.index.has('text_model.embeddings.token_embedding.weight'));
  assert.ok(clip?.index.has('text_model.final_layer_norm.weight'));
});

const tiny = (name: string, shape: number[] = [4]): TensorSpec => ({ name, dtype: 'F16', shape });

test('other architectures and parts of models are refused saying what they are', async () => {
  await refused(
    [tiny('double_blocks.0.img_attn.norm.key_norm.scale')],
    /a FLUX transformer on its own .*all-in-one FLUX checkpoint .* a diffusers folder, or name its clip_l, t5xxl and ae files in the model.s components/,
  );
  await refused(
    [tiny('model.diffusion_model.double_blocks.0.img_attn.norm.key_norm.scale')],
    /has a FLUX transformer but no clip-l text encoder \(no "text_encoders\.clip_l\.transformer\.\*" tensors\)/,
    'MODEL_INVALID',
  );
  // A bare MMDiT (SD3 single files carry the `model.diffusion_model.` prefix).
  await refused(
    [tiny('joint_blocks.0.context_block.attn.qkv.weight')],
    /an SD3 \/ SD 3.5 MMDiT without the single-file 'model.diffusion_model.' prefix/,
  );
  // Z-Image is told from Lumina 2 by `layers.0.adaLN_modulation.0` (z-image-real-shapes.test.ts).
  await refused(
    [tiny('cap_embedder.1.weight'), tiny('noise_refiner.0.x')],
    /a Lumina 2 transformer/,
  );
  await refused(
    [tiny('lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight')],
    /a LoRA, not a checkpoint/,
  );
  await refused([tiny('unet.down_blocks.0.attentions.0.to_q.lora_A.weight')], /a LoRA/);
  await refused([tiny('control_model.input_hint_block.0.weight')], /a ControlNet/);
  const vae = realCheckpointTensors('sd15')
    .filter(({ name }) => name.startsWith('first_stage_model.'))
    .map((tensor) => ({ ...tensor, name: tensor.name.slice('first_stage_model.'.length) }));
  await refused(vae, /a VAE only: name it as the `vae`/);
  await refused([tiny('text_model.encoder.layers.0.mlp.fc1.weight')], /a text encoder only/);
  await refused(
    [tiny('conv_in.weight'), tiny('down_blocks.0.resnets.0.conv1.weight')],
    /diffusers UNet on its own/,
  );
  await refused(
    [tiny('weird.tensor')],
    /not a Stable Diffusion checkpoint \(1 tensors, e\.g\. "weird\.tensor"\)/,
  );
});

test('SDXL refiners, pix2pix UNets and unknown widths are refused by their shapes', async () => {
  const base = [
    tiny('model.diffusion_model.label_emb.0.0.weight', [1280, 2560]),
    tiny(
      'model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight',
      [768, 1280],
    ),
  ];
  await refused([tiny(CONV_IN, [384, 4, 3, 3]), ...base], /an SDXL refiner/);
  await refused(
    replaced(realCheckpointTensors('sd15'), CONV_IN, { shape: [320, 8, 3, 3] }),
    /InstructPix2Pix/,
  );
  const odd = [
    tiny(CONV_IN, [320, 4, 3, 3]),
    tiny('model.diffusion_model.x.attn2.to_k.weight', [320, 512]),
  ];
  await refused(odd, /cross-attention width of 512/);
});

test('loadPipeline reads a checkpoint, refusing bad files and saying what a good one is', async () => {
  // A good checkpoint compiles and runs (checkpoint-run.test.ts); one without a VAE is refused
  // before anything is compiled.
  const { file } = await detect(
    realCheckpointTensors('sd15').filter((tensor) => !tensor.name.startsWith('first_stage_model.')),
  );
  await assert.rejects(
    loadPipeline(file),
    /carries no VAE: name its VAE file in the model.s components/,
  );
  const pickle = path.join(dir, 'model.ckpt');
  await writeFile(pickle, 'x');
  await assert.rejects(loadPipeline(pickle), /PyTorch pickle/);
  const text = path.join(dir, 'notes.txt');
  await writeFile(text, 'x');
  await assert.rejects(loadPipeline(text), /neither a model folder nor a \.safetensors checkpoint/);
  const truncated = path.join(dir, 'truncated.safetensors');
  await writeSafetensors(truncated, realCheckpointTensors('sd15'), { sparse: true });
  await truncate(truncated, 100_000);
  await assert.rejects(loadPipeline(truncated), (error: unknown) => {
    assert.ok(error instanceof EngineError && error.code === 'MODEL_INVALID');
    assert.match(
      error.message,
      /truncated\.safetensors is not a usable \.safetensors file: it is truncated/,
    );
    return true;
  });
});

test('the graph builders build every component of the real SD 1.5, SD 2.1 and SDXL layouts', async () => {
  for (const name of ['sd15', 'sd21-768-v', 'sdxl-base']) {
    const { index, layout } = await detect(realCheckpointTensors(name));
    const { unet, vae, textEncoders } = singleFileComponents(index, layout);
    const unetGraph = buildUnet(unet);
    assert.ok(unetGraph.inputNames.includes('encoder_hidden_states'), name);
    assert.deepEqual(unetGraph.outputNames, ['out_sample']);
    assert.ok(vae);
    assert.deepEqual(buildVaeDecoder(vae).outputNames, ['sample']);
    for (const encoder of textEncoders) {
      assert.ok(buildTextEncoder(encoder.index).outputNames.includes('last_hidden_state'), name);
    }
  }
});

test('narrow SD 1/2 files are told apart by a text encoder as wide as the UNet reads', async () => {
  const fixture = async (name: string) => {
    const file = path.join(import.meta.dirname, '../fixtures/checkpoints', name);
    const read = await readSafetensors(file);
    return detectCheckpoint(file, read.index, read.metadata);
  };
  assert.equal((await fixture('tiny-sd1.safetensors')).family, 'sd1');
  const sd2 = await fixture('tiny-sd2-inpaint.safetensors');
  assert.deepEqual([sd2.family, sd2.unetInChannels], ['sd2', 9]);
  // A narrow SDXL has a class embedding no released model has: still refused by its widths.
  await assert.rejects(fixture('tiny-sdxl.safetensors'), /cross-attention width of 96/);
  // A UNet reading 32-wide text next to a 768-wide CLIP-L is no SD 1.x.
  const mismatched = realCheckpointTensors('sd15').map((tensor) =>
    tensor.name.includes('attn2.to_k.weight') ? { ...tensor, shape: [320, 32] } : tensor,
  );
  await refused(mismatched, /cross-attention width of 32, not SD 1\/2\/XL/);
});
