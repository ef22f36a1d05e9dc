import type { TextEncoderIndex } from '../checkpoint/checkpoint-components.ts';
import {
  buildT5Encoder,
  buildTextEncoder,
  type BuiltGraph,
  type GraphPrecision,
} from '../checkpoint/graphs/index.ts';
import { EngineError } from '../engine-error.ts';
import { TEXT_ENCODER_SETTINGS } from '../model/checkpoint-manifest.ts';
import type { OnnxModel } from '../onnx/onnx-model.ts';
import { BUNDLED_CLIP_TOKENIZER_DIR } from '../text/bundled-clip-tokenizer.ts';
import { ClipTokenizer } from '../text/clip-tokenizer.ts';
import { T5Tokenizer } from '../text/t5-tokenizer.ts';
import type { CheckpointGraphSettings } from './checkpoint-graph-settings.ts';
import type { TextEncoderUnit } from './text-conditioning.ts';

/** SD3 reads 77 T5 tokens (`sd3_infer.py` pads to 77; diffusers' 256 is not what it was trained on). */
const SD3_T5_TOKENS = 77;

/** Creates a session over a built graph, named `label`. */
export type CreateSession = (label: string, build: () => BuiltGraph) => Promise<OnnxModel>;

/**
 * One text encoder of a checkpoint compiled and paired with its tokenizer: CLIP kinds with the
 * bundled CLIP BPE (their padding and projection per kind), T5-XXL with the tokenizer.json the
 * settings name (a `.safetensors` file carries none).
 */
export async function checkpointTextEncoder(
  encoder: TextEncoderIndex,
  position: number,
  settings: CheckpointGraphSettings,
  context: { location: string; precision: GraphPrecision; create: CreateSession; label: string },
): Promise<TextEncoderUnit> {
  const { precision, create, label } = context;
  if (encoder.kind === 't5-xxl') {
    if (!settings.t5TokenizerDir) {
      throw new EngineError(
        'MODEL_UNSUPPORTED',
        `${context.location} carries T5-XXL but no T5 tokenizer: name its tokenizer.json folder, or set the model's 't5: false' to run without T5`,
      );
    }
    return {
      tokenizer: await T5Tokenizer.load(settings.t5TokenizerDir, SD3_T5_TOKENS),
      model: await create(label, () => buildT5Encoder(encoder.index, { precision })),
    };
  }
  const { activation, clipSkip, padToken, projection } = TEXT_ENCODER_SETTINGS[encoder.kind];
  return {
    tokenizer: await ClipTokenizer.load(
      settings.tokenizerDir ?? BUNDLED_CLIP_TOKENIZER_DIR,
      padToken ? { padToken } : {},
    ),
    model: await create(label, () =>
      buildTextEncoder(encoder.index, {
        precision,
        activation,
        clipSkip,
        projection,
        headDim: settings.textHeadDims?.[position] ?? 64,
      }),
    ),
  };
}
