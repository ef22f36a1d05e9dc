import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { readDiffusersFolder } from '../../src/engine/checkpoint/read-diffusers-folder.ts';
import { readVaeFile } from '../../src/engine/checkpoint/read-vae-file.ts';
import { readWeightFiles } from '../../src/engine/checkpoint/sharded-safetensors.ts';
import type { TensorDtype } from '../../src/engine/checkpoint/tensor-ref.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { diffusersUnetNames, diffusersVaeNames } from '../helpers/diffusers-names.ts';
import { writeSafetensors, type TensorSpec } from '../helpers/safetensors-files.ts';

let root: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'pictor-diffusers-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const SHAPES: Record<string, number[]> = {
  'conv_in.weight': [320, 4, 3, 3],
  'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight': [320, 1024],
  'decoder.conv_in.weight': [512, 4, 3, 3],
};
const specs = (names: readonly string[], dtype: TensorDtype = 'F16'): TensorSpec[] =>
  names.map((name) => ({ name, dtype, shape: SHAPES[name] ?? [2] }));

const clipNames = [
  'text_model.embeddings.token_embedding.weight',
  'text_model.encoder.layers.0.self_attn.q_proj.weight',
  'text_model.encoder.layers.0.mlp.fc1.weight',
  'text_model.final_layer_norm.weight',
];

/** An SD 2-shaped diffusers folder: UNet in two variants, a sharded text encoder, a VAE. */
async function sd2Folder(name: string): Promise<string> {
  const dir = path.join(root, name);
  for (const sub of ['unet', 'vae', 'text_encoder', 'scheduler']) {
    await mkdir(path.join(dir, sub), { recursive: true });
  }
  await writeFile(path.join(dir, 'model_index.json'), '{"_class_name": "StableDiffusionPipeline"}');
  await writeFile(
    path.join(dir, 'scheduler', 'scheduler_config.json'),
    '{"prediction_type": "v_prediction"}',
  );
  const unet = diffusersUnetNames({
    depths: [1, 1, 1, 0],
    channelMult: [1, 2, 4, 4],
    midDepth: 1,
    addEmbedding: false,
  });
  await writeSafetensors(
    path.join(dir, 'unet', 'diffusion_pytorch_model.safetensors'),
    specs(unet, 'F32'),
  );
  await writeSafetensors(
    path.join(dir, 'unet', 'diffusion_pytorch_model.fp16.safetensors'),
    specs(unet),
  );
  await writeSafetensors(
    path.join(dir, 'vae', 'diffusion_pytorch_model.safetensors'),
    specs(diffusersVaeNames()),
  );
  const [first, ...rest] = clipNames;
  await writeSafetensors(
    path.join(dir, 'text_encoder', 'model-00001-of-00002.safetensors'),
    specs([first ?? '']),
  );
  await writeSafetensors(
    path.join(dir, 'text_encoder', 'model-00002-of-00002.safetensors'),
    specs(rest),
  );
  const weightMap = Object.fromEntries(
    clipNames.map((n, i) => [n, `model-0000${i === 0 ? 1 : 2}-of-00002.safetensors`]),
  );
  await writeFile(
    path.join(dir, 'text_encoder', 'model.safetensors.index.json'),
    JSON.stringify({ weight_map: weightMap }),
  );
  return dir;
}

test('a diffusers folder is read into LDM-named UNet and VAE with its prediction type', async () => {
  const dir = await sd2Folder('sd2');
  const { layout, components, files } = await readDiffusersFolder(dir, { preferHalf: false });
  assert.deepEqual(layout, {
    family: 'sd2',
    predictionType: 'v_prediction',
    unetInChannels: 4,
    textEncoders: ['openclip-h'],
    hasVae: true,
  });
  assert.equal(components.unet.get('input_blocks.0.0.weight')?.dtype, 'F32');
  assert.ok(components.vae?.has('decoder.mid.attn_1.q.weight'));
  const [encoder] = components.textEncoders;
  assert.equal(encoder?.kind, 'openclip-h');
  assert.deepEqual([...(encoder?.index.keys() ?? [])].sort(), [...clipNames].sort());
  // UNet, VAE and both text-encoder shards: every file the graphs will point into.
  assert.equal(files.size, 4);
});

test('the fp16 variant is chosen when preferred, full precision otherwise', async () => {
  const dir = await sd2Folder('variants');
  const half = await readDiffusersFolder(dir, { preferHalf: true });
  assert.equal(half.components.unet.get('input_blocks.0.0.weight')?.dtype, 'F16');
  assert.ok(
    [...half.files.keys()].some((file) =>
      file.endsWith('diffusion_pytorch_model.fp16.safetensors'),
    ),
  );
});

test('a component with only pickles is refused naming the file; a shard map that lies is refused', async () => {
  const dir = await sd2Folder('pickles');
  await rm(path.join(dir, 'vae', 'diffusion_pytorch_model.safetensors'));
  await writeFile(path.join(dir, 'vae', 'diffusion_pytorch_model.bin'), 'pickle');
  await assert.rejects(readDiffusersFolder(dir, { preferHalf: false }), (error: unknown) => {
    assert.ok(error instanceof EngineError);
    assert.equal(error.code, 'MODEL_UNSUPPORTED');
    assert.match(error.message, /vae\/diffusion_pytorch_model\.bin is a PyTorch pickle/);
    return true;
  });
  const index = path.join(dir, 'text_encoder', 'model.safetensors.index.json');
  await writeFile(
    index,
    JSON.stringify({ weight_map: { [clipNames[1] ?? '']: 'model-00001-of-00002.safetensors' } }),
  );
  await assert.rejects(
    readWeightFiles(index),
    /places tensor "text_model\.encoder\.layers\.0\.self_attn\.q_proj\.weight" in model-00001-of-00002\.safetensors, which does not hold it/,
  );
  await writeFile(index, JSON.stringify({ weight_map: { x: '../elsewhere.safetensors' } }));
  await assert.rejects(readWeightFiles(index), /not a shard file beside it/);
});

test('a standalone VAE in diffusers or LDM names is read in LDM names; a 16-channel one is refused', async () => {
  const diffusersVae = path.join(root, 'sdxl-vae-fp16-fix.safetensors');
  await writeSafetensors(diffusersVae, specs(diffusersVaeNames()));
  const read = await readVaeFile(diffusersVae);
  assert.deepEqual(read.index.get('decoder.conv_in.weight')?.shape, [512, 4, 3, 3]);
  assert.ok(read.index.has('decoder.up.0.block.0.nin_shortcut.weight'));

  const prefixed = path.join(root, 'prefixed-vae.safetensors');
  await writeSafetensors(prefixed, [
    { name: 'first_stage_model.decoder.conv_in.weight', dtype: 'F16', shape: [512, 4, 3, 3] },
  ]);
  assert.ok((await readVaeFile(prefixed)).index.has('decoder.conv_in.weight'));

  const flux = path.join(root, 'ae.safetensors');
  await writeSafetensors(flux, [
    { name: 'decoder.conv_in.weight', dtype: 'F16', shape: [512, 16, 3, 3] },
  ]);
  await assert.rejects(readVaeFile(flux), /ae\.safetensors is a VAE with 16 latent channels/);
});
