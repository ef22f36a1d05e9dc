import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import ort from 'onnxruntime-node';
import type { TextEncoderKind } from '../../src/engine/checkpoint/checkpoint-layout.ts';
import {
  buildTextEncoder,
  buildUnet,
  buildVaeDecoder,
  buildVaeEncoder,
  type BuiltGraph,
  type TextEncoderOptions,
} from '../../src/engine/checkpoint/graphs/index.ts';
import { readSingleFileCheckpoint } from '../../src/engine/checkpoint/read-single-file.ts';
import { realCheckpointTensors } from '../helpers/checkpoint-headers.ts';
import { writeSafetensors } from '../helpers/safetensors-files.ts';

// The exact tensor names and shapes of SD 1.5, SD 2.1 768-v and SDXL base as sparse files (real
// sizes, no weights): every builder's defaults must fit the real models and ONNX Runtime must
// accept the graphs. Sessions are created without optimization, so nothing reads the (empty) weights.
let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-real-graphs-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** How each family conditions: SD 2.x on the penultimate OpenCLIP-H layer. */
const TEXT_OPTIONS: Record<Exclude<TextEncoderKind, 't5' | 'qwen3'>, TextEncoderOptions> = {
  'clip-l': {},
  'openclip-h': { clipSkip: 2 },
  'openclip-bigg': {},
};

type Shapes = Record<string, readonly (number | string)[]>;

async function compile(built: BuiltGraph): Promise<{ inputs: Shapes; outputs: Shapes }> {
  const session = await ort.InferenceSession.create(built.bytes, {
    graphOptimizationLevel: 'disabled',
    extra: { session: { model_external_initializers_file_folder_path: '/' } },
  });
  const shapes = (metadata: readonly ort.InferenceSession.ValueMetadata[]): Shapes =>
    Object.fromEntries(metadata.map((value) => [value.name, value.isTensor ? value.shape : []]));
  const compiled = {
    inputs: shapes(session.inputMetadata),
    outputs: shapes(session.outputMetadata),
  };
  await session.release();
  return compiled;
}

async function graphsOf(name: string) {
  const file = path.join(dir, `${name}.safetensors`);
  await writeSafetensors(file, realCheckpointTensors(name), { sparse: true });
  const { components } = await readSingleFileCheckpoint(file);
  assert.ok(components.vae);
  return {
    unet: await compile(buildUnet(components.unet)),
    text: await Promise.all(
      components.textEncoders.map(({ kind, index }) =>
        compile(
          buildTextEncoder(index, TEXT_OPTIONS[kind as Exclude<TextEncoderKind, 't5' | 'qwen3'>]),
        ),
      ),
    ),
    decoder: await compile(buildVaeDecoder(components.vae)),
    encoder: await compile(buildVaeEncoder(components.vae)),
  };
}

test('SD 1.5: CLIP-L (12 layers, 768), UNet, VAE compile with the real shapes', async () => {
  const graphs = await graphsOf('sd15');
  assert.deepEqual(graphs.unet.inputs, {
    sample: ['batch', 4, 'height', 'width'],
    timestep: ['batch'],
    encoder_hidden_states: ['batch', 'sequence', 768],
  });
  const [clip] = graphs.text;
  assert.deepEqual(clip?.inputs, { input_ids: ['batch', 77] });
  assert.deepEqual(clip?.outputs['last_hidden_state'], ['batch', 77, 768]);
  assert.ok(clip?.outputs['hidden_states.12'] && !clip.outputs['hidden_states.13']);
  assert.deepEqual(graphs.decoder.inputs, {
    latent_sample: ['batch', 4, 'latent_height', 'latent_width'],
  });
  assert.deepEqual(Object.keys(graphs.encoder.outputs), ['latent_sample', 'latent_parameters']);
});

test('SD 2.1: OpenCLIP-H (24 layers, 1024) and a 1024-context UNet compile', async () => {
  const graphs = await graphsOf('sd21-768-v');
  assert.deepEqual(graphs.unet.inputs['encoder_hidden_states'], ['batch', 'sequence', 1024]);
  const [clip] = graphs.text;
  assert.deepEqual(clip?.outputs['last_hidden_state'], ['batch', 77, 1024]);
  assert.ok(clip?.outputs['hidden_states.24']);
  assert.deepEqual(clip.outputs['text_embeds'], ['batch', 1024]);
});

test('SDXL base: CLIP-L, bigG with text_embeds, UNet with text_embeds 1280 and time_ids compile', async () => {
  const graphs = await graphsOf('sdxl-base');
  assert.deepEqual(graphs.unet.inputs, {
    sample: ['batch', 4, 'height', 'width'],
    timestep: ['batch'],
    encoder_hidden_states: ['batch', 'sequence', 2048],
    text_embeds: ['batch', 1280],
    time_ids: ['batch', 6],
  });
  const [clipL, bigG] = graphs.text;
  assert.deepEqual(clipL?.outputs['hidden_states.11'], ['batch', 77, 768]);
  assert.deepEqual(bigG?.outputs['hidden_states.31'], ['batch', 77, 1280]);
  assert.deepEqual(bigG?.outputs['text_embeds'], ['batch', 1280]);
});
