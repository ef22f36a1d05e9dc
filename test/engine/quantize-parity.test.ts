import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type ort from 'onnxruntime-node';
import { buildTextEncoder } from '../../src/engine/checkpoint/graphs/text-encoder.ts';
import { buildUnet } from '../../src/engine/checkpoint/graphs/unet.ts';
import type { TensorIndex } from '../../src/engine/checkpoint/tensor-ref.ts';
import { quantizeGraph } from '../../src/engine/quantize/quantize-graph.ts';
import type { WeightQuantization } from '../../src/engine/types.ts';
import {
  CHECKPOINTS,
  componentIndex,
  floatTensor,
  int32Tensor,
  readReferences,
  reference,
  relativeError,
  sessionFor,
  type ReferenceTensor,
} from '../helpers/checkpoint-graphs.ts';

// int8 and int4 graphs against the reference outputs of the tiny checkpoints (the fp32 graphs
// match them to 1e-4). Bounds: the errors measured here (docs/models.md) with ~2× headroom.
const TOLERANCE: Readonly<Record<Exclude<WeightQuantization, 'none'>, number>> = {
  int8: 0.04,
  int4: 0.3,
};

interface Case {
  readonly fixture: string;
  readonly unetPrefix: string;
  readonly textPrefix: string;
  readonly unetOptions: Parameters<typeof buildUnet>[1];
  readonly textOptions: Parameters<typeof buildTextEncoder>[1];
  /** The reference output the text encoder's `last_hidden_state` is compared with. */
  readonly textReference: string;
  readonly unetInputs: readonly string[];
}

const CASES: readonly Case[] = [
  {
    fixture: 'tiny-sd1',
    unetPrefix: 'model.diffusion_model.',
    textPrefix: 'cond_stage_model.transformer.',
    unetOptions: {},
    textOptions: { headDim: 8, activation: 'quick_gelu' },
    textReference: 'text.last_hidden_state',
    unetInputs: ['sample', 'timestep', 'encoder_hidden_states'],
  },
  {
    fixture: 'tiny-sd2-inpaint',
    unetPrefix: 'model.diffusion_model.',
    textPrefix: 'cond_stage_model.model.',
    unetOptions: { heads: { channels: 16 } },
    textOptions: { headDim: 16, clipSkip: 2 },
    textReference: 'text.penultimate',
    unetInputs: ['sample', 'timestep', 'encoder_hidden_states'],
  },
  {
    fixture: 'tiny-sdxl',
    unetPrefix: 'model.diffusion_model.',
    textPrefix: 'conditioner.embedders.0.transformer.',
    unetOptions: { heads: { channels: 16 }, timeIdWidth: 8 },
    textOptions: { headDim: 8, activation: 'quick_gelu' },
    textReference: 'text.l.hidden_states.3',
    unetInputs: ['sample', 'timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids'],
  },
];

let cacheDir: string;
before(async () => {
  cacheDir = await mkdtemp(path.join(tmpdir(), 'pictor-quant-parity-'));
});
after(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

async function run(
  bytes: Uint8Array,
  feeds: Record<string, ort.Tensor>,
  output: string,
): Promise<ort.Tensor> {
  const outputs = await (await sessionFor(bytes)).run(feeds);
  const tensor = outputs[output];
  assert.ok(tensor, `no ${output}`);
  return tensor;
}

for (const c of CASES) {
  for (const quantization of ['int8', 'int4'] as const) {
    test(`${c.fixture}: ${quantization} UNet and text encoder stay within ${TOLERANCE[quantization]} of the reference`, async (t) => {
      const file = path.join(CHECKPOINTS, `${c.fixture}.safetensors`);
      const references = await readReferences(
        path.join(CHECKPOINTS, `${c.fixture}.reference.safetensors`),
      );
      const ref = (name: string): ReferenceTensor => reference(references, name);
      const unet: TensorIndex = await componentIndex(file, c.unetPrefix);
      const text: TensorIndex = await componentIndex(file, c.textPrefix);

      const unetGraph = await quantizeGraph(buildUnet(unet, c.unetOptions).bytes, {
        quantization,
        cacheDir,
        name: `${c.fixture}-unet`,
      });
      assert.ok(unetGraph.quantizedWeights > 10, `${unetGraph.quantizedWeights} weights quantized`);
      const unetFeeds = Object.fromEntries(
        c.unetInputs.map((name) => [name, floatTensor(ref(`unet.${name}`))]),
      );
      const unetError = relativeError(
        await run(unetGraph.bytes, unetFeeds, 'out_sample'),
        ref('unet.out_sample'),
      );

      const textGraph = await quantizeGraph(buildTextEncoder(text, c.textOptions).bytes, {
        quantization,
        cacheDir,
        name: `${c.fixture}-text`,
      });
      const textOutput = c.textReference.endsWith('hidden_states.3')
        ? 'hidden_states.3'
        : 'last_hidden_state';
      const textError = relativeError(
        await run(textGraph.bytes, { input_ids: int32Tensor(ref('text.input_ids')) }, textOutput),
        ref(c.textReference),
      );
      t.diagnostic(
        `${c.fixture} ${quantization}: UNet ${unetError.toExponential(2)}, text ${textError.toExponential(2)}`,
      );
      assert.ok(unetError <= TOLERANCE[quantization], `UNet relative error ${unetError}`);
      assert.ok(textError <= TOLERANCE[quantization], `text relative error ${textError}`);
      // Quantization changed the numbers: the check compares quantized weights, not float ones.
      assert.ok(unetError > 1e-5, `UNet error ${unetError} is that of a float graph`);
    });
  }
}
