import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import ort from 'onnxruntime-node';
import { adminCli } from '../../src/cli/admin-cli.ts';
import { ldmVaeIndex } from '../../src/engine/checkpoint/diffusers-vae-names.ts';
import {
  buildQwen3Encoder,
  buildVaeDecoder,
  buildZImageTransformer,
  zImageTransformerShape,
  type BuiltGraph,
} from '../../src/engine/checkpoint/graphs/index.ts';
import { readCheckpoint } from '../../src/engine/checkpoint/read-checkpoint.ts';
import type { TensorIndex, TensorRef } from '../../src/engine/checkpoint/tensor-ref.ts';
import { zImageTransformerIndex } from '../../src/engine/checkpoint/z-image-transformer-names.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { estimateCheckpointMemory } from '../../src/engine/memory/estimate-memory.ts';
import { checkpointManifest } from '../../src/engine/model/checkpoint-manifest.ts';
import { realCheckpointTensors } from '../helpers/checkpoint-headers.ts';
import { diffusersVaeNames } from '../helpers/diffusers-names.ts';
import { writeSafetensors, type TensorSpec } from '../helpers/safetensors-files.ts';

// Z-Image-Turbo's diffusers folder as sparse files with the real names and shapes (no weights):
// the transformer from diffusers' transformer_z_image.py on torch's meta device, Qwen3-4B from its
// config (scripts/fixtures/make_zimage_real_shape_headers.py), and the FLUX.1 VAE it reuses, in
// diffusers names (renamed here from the FLUX.1-dev header's LDM names).
let dataDir: string;
let folder: string;
before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'pictor-zimage-shapes-'));
  folder = path.join(dataDir, 'models', 'zimage-turbo');
  const part = async (name: string, file: string, tensors: TensorSpec[]): Promise<void> => {
    await mkdir(path.join(folder, name), { recursive: true });
    await writeSafetensors(path.join(folder, name, file), tensors, { sparse: true });
  };
  await part(
    'transformer',
    'diffusion_pytorch_model.safetensors',
    realCheckpointTensors('zimage-turbo-transformer'),
  );
  await part('text_encoder', 'model.safetensors', realCheckpointTensors('zimage-turbo-qwen3-4b'));
  await part('vae', 'diffusion_pytorch_model.safetensors', fluxVaeInDiffusersNames());
  await mkdir(path.join(folder, 'tokenizer'));
  await writeFile(path.join(folder, 'model_index.json'), '{"_class_name": "ZImagePipeline"}');
});
after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** The FLUX.1 VAE's tensors under diffusers' AutoencoderKL names (attention as Linear, no quant convs). */
function fluxVaeInDiffusersNames(): TensorSpec[] {
  const marker = (name: string): TensorRef => ({
    dtype: 'F32',
    shape: [1, 1],
    file: name,
    offset: 0,
    length: 4,
  });
  const diffusersOf = new Map<string, string>();
  for (const [ldm, ref] of ldmVaeIndex(
    new Map(diffusersVaeNames().map((name) => [name, marker(name)])),
  )) {
    diffusersOf.set(ldm, ref.file);
  }
  return realCheckpointTensors('flux1-dev').flatMap((spec) => {
    if (!spec.name.startsWith('vae.')) return [];
    const name = diffusersOf.get(spec.name.slice(4));
    assert.ok(name, `no diffusers name for ${spec.name}`);
    const linear = /attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(name);
    return [{ ...spec, name, shape: linear ? spec.shape.slice(0, 2) : spec.shape }];
  });
}

type Shapes = Record<string, readonly (number | string)[]>;

/** Creates the session without optimization (nothing reads the empty weights) and lists its I/O. */
async function compile(built: BuiltGraph): Promise<{ inputs: Shapes; outputs: Shapes }> {
  const session = await ort.InferenceSession.create(built.bytes, {
    graphOptimizationLevel: 'disabled',
    extra: { session: { model_external_initializers_file_folder_path: '/' } },
  });
  const shapes = (metadata: readonly ort.InferenceSession.ValueMetadata[]): Shapes =>
    Object.fromEntries(metadata.map((m) => [m.name, m.isTensor ? m.shape : []]));
  const compiled = {
    inputs: shapes(session.inputMetadata),
    outputs: shapes(session.outputMetadata),
  };
  await session.release();
  return compiled;
}

async function source() {
  const read = await readCheckpoint(folder, { preferHalf: false });
  assert.ok(read);
  return read;
}

test('Z-Image-Turbo diffusers folder: detected as Z-Image with Qwen3 and a 16-channel VAE, Turbo defaults', async () => {
  const read = await source();
  assert.deepEqual(read.layout, {
    family: 'zimage',
    predictionType: 'epsilon',
    unetInChannels: 16,
    textEncoders: ['qwen3'],
    hasVae: true,
  });
  assert.deepEqual(zImageTransformerShape(read.components.unet), {
    dim: 3840,
    heads: 30,
    headDim: 128,
    patchWidth: 64,
    captionWidth: 2560,
    layers: 30,
    refinerLayers: 2,
  });
  const manifest = checkpointManifest(folder, read);
  assert.equal(manifest.family, 'zimage');
  assert.deepEqual(manifest.defaults, { width: 1024, height: 1024, steps: 8, guidanceScale: 0 });
  assert.deepEqual(
    [manifest.latentChannels, manifest.vaeScaleFactor, manifest.limits.sizeMultiple],
    [16, 8, 16],
  );
  assert.deepEqual([manifest.scalingFactor, manifest.shiftFactor], [0.3611, 0.1159]);
});

test('Z-Image-Turbo memory estimate per quantization: about 10 B float parameters (transformer + Qwen3-4B + VAE)', async () => {
  const estimate = estimateCheckpointMemory(folder, await source());
  const gb = (bytes: number): number => Math.round((bytes / 1024 ** 3) * 10) / 10;
  const weights = Object.fromEntries(
    Object.entries(estimate.byQuantization).map(([quantization, need]) => [
      quantization,
      gb(need.weightBytes),
    ]),
  );
  console.log('Z-Image-Turbo weight GB by quantization', weights);
  // fp32 on CPU: 4 bytes per parameter; int8/int4 shrink the linear layers only.
  assert.ok(weights['none']! > 37 && weights['none']! < 40, `fp32 weights ${weights['none']} GB`);
  assert.ok(weights['int8']! < weights['none']! / 2.5);
  assert.ok(weights['int4']! < weights['int8']!);
});

test('Z-Image-Turbo: transformer, Qwen3-4B and VAE decoder compile at the real shapes', async () => {
  const { components } = await source();
  const transformer = await compile(buildZImageTransformer(components.unet));
  assert.deepEqual(transformer.inputs, {
    hidden_states: ['batch', 'image_tokens', 64],
    encoder_hidden_states: ['batch', 'caption_tokens', 2560],
    timestep: ['batch'],
    rope_cos: ['batch', 'tokens', 64],
    rope_sin: ['batch', 'tokens', 64],
  });
  assert.deepEqual(transformer.outputs, { out_sample: ['batch', 'image_tokens', 64] });
  const qwen = components.textEncoders[0];
  assert.equal(qwen?.kind, 'qwen3');
  const encoder = await compile(buildQwen3Encoder(qwen.index));
  assert.deepEqual(encoder.outputs, { hidden_state: ['batch', 'sequence', 2560] });
  assert.ok(components.vae);
  const decoder = await compile(buildVaeDecoder(components.vae));
  assert.deepEqual(decoder.inputs, {
    latent_sample: ['batch', 16, 'latent_height', 'latent_width'],
  });
});

for (const [label, prefix] of [
  ['ComfyUI single file', ''],
  ['single file with the LDM prefix', 'model.diffusion_model.'],
] as const) {
  test(`a bare Z-Image transformer (${label}) is refused, sized, pointing at the diffusers folder`, async () => {
    const file = path.join(
      folder,
      `z_image_turbo_bf16-${prefix ? 'prefixed' : 'plain'}.safetensors`,
    );
    const tensors = realCheckpointTensors('zimage-turbo-comfy').map((spec) => ({
      ...spec,
      name: prefix + spec.name,
    }));
    await writeSafetensors(file, tensors, { sparse: true });
    await assert.rejects(readCheckpoint(file, { preferHalf: false }), (error: unknown) => {
      assert.ok(error instanceof EngineError);
      assert.equal(error.code, 'MODEL_UNSUPPORTED');
      assert.match(
        error.message,
        /Z-Image transformer on its own \(30 layers, 3840 wide\).*diffusers folder/,
      );
      return true;
    });
  });
}

test('the single-file names (fused qkv) give the same transformer index as the diffusers names', () => {
  const comfy = realCheckpointTensors('zimage-turbo-comfy');
  const asIndex = (specs: TensorSpec[]): TensorIndex =>
    new Map(
      specs.map((spec) => [
        spec.name,
        { dtype: spec.dtype, shape: spec.shape, file: '/x', offset: 0, length: 0 },
      ]),
    );
  const fromComfy = zImageTransformerIndex(asIndex(comfy));
  const diffusers = asIndex(realCheckpointTensors('zimage-turbo-transformer'));
  assert.deepEqual(
    [...fromComfy].map(([name, ref]) => [name, ref.shape]).sort(),
    [...diffusers].map(([name, ref]) => [name, ref.shape]).sort(),
  );
});

test('pictor models info prints the Z-Image-Turbo memory per quantization against the budget', async () => {
  const info = async (env: Record<string, string> = {}): Promise<string> => {
    let out = '';
    let err = '';
    const code = await adminCli(['models', 'info', 'zimage-turbo'], {
      out: (text) => (out += text),
      err: (text) => (err += text),
      env: {
        PICTOR_CONFIG: path.resolve(import.meta.dirname, '../helpers/empty.yaml'),
        PICTOR_DATA_DIR: dataDir,
        // Nothing listens on port 1: the CLI says it cannot reach a running server.
        PICTOR_SERVER__PORT: '1',
        PICTOR_WORKERS__MEMORY_BUDGET_GB: '16',
        ...env,
      },
    });
    assert.equal(code, 0, err);
    return out;
  };
  const out = await info();
  assert.match(
    out,
    /memory on CPU \(zimage, 1024×1024, batch of 2; workers\.memoryBudgetGb 16\.0\):/,
  );
  assert.match(
    out,
    /none\s+\d+\.\d\d GB\s+\(weights 38\.\d\d \+ working \d+\.\d\d\) {2}over budget/,
  );
  assert.match(out, /int4\s+\d+\.\d\d GB\s+\(weights 7\.\d\d \+ working \d+\.\d\d\)/);
  // With the cache on (the default) the weights are folded before ORT sees them: no extra.
  assert.doesNotMatch(out, /float32 copies/);
  // bfloat16 weights kept in float, folded by ORT on every start: its copies make the total.
  assert.match(
    await info({ PICTOR_WORKERS__CACHE_OPTIMIZED_MODELS: 'false' }),
    /with workers\.cacheOptimizedModels off, each start holds ONNX Runtime's float32 copies of the 16-bit linear weights instead of the working memory: none \+\d+\.\d\d GB\n/,
  );
});
