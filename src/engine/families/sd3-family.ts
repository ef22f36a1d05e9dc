import { EngineError } from '../engine-error.ts';
import type { RunOutputs } from '../onnx/onnx-model.ts';
import type { TextConditioning } from '../pipeline/text-conditioning.ts';
import { UnetRunner } from '../pipeline/unet-runner.ts';
import { FLOW_SCHEDULER_NAMES } from '../schedulers/scheduler.ts';
import type { EncoderContribution, FamilyParts } from './family-parts.ts';
import { attentionWorkingMemory } from './working-memory.ts';

/** T5's share of SD3's token sequence: 77 tokens, zeros when the model runs without T5-XXL. */
const T5_TOKENS = 77;

/**
 * SD 3 / 3.5 (`sd3_infer.py` `get_cond`): CLIP-L's and CLIP-G's penultimate hidden states side by
 * side, zero-padded to T5's width, followed along the sequence by T5-XXL's 77 states (zeros
 * without T5, as diffusers does); pooled: CLIP-L's unprojected pooled output ‖ CLIG-G's projection.
 * 16-channel latents at scale 1.5305 and shift 0.0609; an empty negative prompt is encoded as is.
 * The MMDiT takes latents as they are (it patches them itself), so the UNet's runner feeds it, with
 * classifier-free guidance; flow-matching Euler steps at the static shift of its scheduler config.
 */
export const SD3_FAMILY: FamilyParts = {
  // Not measured (SD 3.5 Large does not fit fp32 here): the attention matrices of 38 heads over
  // 4096 image + 154 text tokens at 1024², batch 2 for classifier-free guidance.
  memory: attentionWorkingMemory({ baseGb: 1, gbAt4096Tokens: 5.5, pixelsPerToken: 16 }),
  selectEncoderOutputs: (outputs, label) => {
    const clip = highestHiddenState(outputs);
    if (clip === undefined) {
      // T5-XXL: its final (normed) state.
      const last = outputs['last_hidden_state'];
      if (!last) throw new EngineError('MODEL_INVALID', `${label} returned no hidden state`);
      return { hidden: last.data as Float32Array, dims: last.dims, pooledSize: 0 };
    }
    const penultimate = outputs[`hidden_states.${clip - 1}`];
    const pooled = outputs['text_embeds'] ?? outputs['pooler_output'];
    if (!penultimate || !pooled) {
      throw new EngineError('MODEL_INVALID', `${label}: penultimate or pooled state missing`);
    }
    return {
      hidden: penultimate.data as Float32Array,
      dims: penultimate.dims,
      pooled: pooled.data as Float32Array,
      pooledSize: pooled.dims.at(-1) ?? 0,
    };
  },
  combineText: (parts, count, input) => {
    const [clipL, clipG, t5] = parts.map(withHidden);
    if (!clipL || !clipG) {
      throw new EngineError('MODEL_INVALID', 'SD3 conditions on CLIP-L and CLIP-G; one is missing');
    }
    const width = input.tokenWidth;
    const clipTokens = clipL.dims[1] ?? 77;
    const t5Tokens = t5 ? (t5.dims[1] ?? T5_TOKENS) : T5_TOKENS;
    const sequenceLength = clipTokens + t5Tokens;
    const hiddenStates = new Float32Array(count * sequenceLength * width);
    for (let item = 0; item < count; item++) {
      const base = item * sequenceLength * width;
      placeSideBySide(hiddenStates, base, [clipL, clipG], item, clipTokens, width);
      if (t5) {
        const rows = t5Tokens * width;
        if ((t5.dims[2] ?? 0) !== width) {
          throw new EngineError('MODEL_INVALID', `T5 states are ${t5.dims[2]} wide, not ${width}`);
        }
        hiddenStates.set(
          t5.hidden.subarray(item * rows, (item + 1) * rows),
          base + clipTokens * width,
        );
      }
    }
    return {
      hiddenStates,
      sequenceLength,
      hiddenSize: width,
      ...pooledSideBySide([clipL, clipG], count),
    };
  },
  zeroEmptyNegativePrompt: false,
  guidance: 'classifier-free',
  schedulers: FLOW_SCHEDULER_NAMES,
  createDenoiser: (model, inputs) => new UnetRunner(model, inputs),
  latentFormat: {
    scalingFactor: 1.5305,
    shiftFactor: 0.0609,
    nativeLatentSide: 128,
    // `SD3LatentFormat.decode_latent_to_preview`'s factors, one row per latent channel.
    previewProjection: {
      factors: [
        [-0.0645, 0.0177, 0.1052],
        [0.0028, 0.0312, 0.065],
        [0.1848, 0.0762, 0.036],
        [0.0944, 0.036, 0.0889],
        [0.0897, 0.0506, -0.0364],
        [-0.002, 0.1203, 0.0284],
        [0.0855, 0.0118, 0.0283],
        [-0.0539, 0.0658, 0.1047],
        [-0.0057, 0.0116, 0.07],
        [-0.0412, 0.0281, -0.0039],
        [0.1106, 0.1171, 0.122],
        [-0.0248, 0.0682, -0.0481],
        [0.0815, 0.0846, 0.1207],
        [-0.012, -0.0055, -0.0867],
        [-0.0749, -0.0634, -0.0456],
        [-0.1418, -0.1457, -0.1259],
      ],
      bias: [0, 0, 0],
    },
  },
};

type WithHidden = EncoderContribution & { hidden: Float32Array; dims: readonly number[] };

/** Every SD3 encoder contributes hidden states. */
function withHidden(part: EncoderContribution): WithHidden {
  if (!part.hidden || !part.dims) {
    throw new EngineError('MODEL_INVALID', 'an SD3 text encoder contributed no hidden states');
  }
  return part as WithHidden;
}

/** N of the highest `hidden_states.N`, or undefined for an encoder without them (T5). */
function highestHiddenState(outputs: RunOutputs): number | undefined {
  const layers = Object.keys(outputs)
    .map((name) => /^hidden_states\.(\d+)$/.exec(name)?.[1])
    .filter((index): index is string => index !== undefined)
    .map(Number);
  return layers.length < 2 ? undefined : Math.max(...layers);
}

/** Item `item`'s CLIP states, each token's features side by side, zero-padded to `width`. */
function placeSideBySide(
  target: Float32Array,
  base: number,
  clips: readonly WithHidden[],
  item: number,
  tokens: number,
  width: number,
): void {
  const sizes = clips.map((clip) => clip.dims[2] ?? 0);
  if (sizes.reduce((sum, size) => sum + size, 0) > width) {
    throw new EngineError('MODEL_INVALID', `CLIP states (${sizes.join(' + ')}) exceed ${width}`);
  }
  for (let token = 0; token < tokens; token++) {
    let offset = base + token * width;
    clips.forEach((clip, index) => {
      const size = sizes[index] ?? 0;
      const start = (item * tokens + token) * size;
      target.set(clip.hidden.subarray(start, start + size), offset);
      offset += size;
    });
  }
}

function pooledSideBySide(
  clips: readonly EncoderContribution[],
  count: number,
): Pick<TextConditioning, 'pooled' | 'pooledSize'> {
  const pooledSize = clips.reduce((sum, clip) => sum + clip.pooledSize, 0);
  const pooled = new Float32Array(count * pooledSize);
  for (let item = 0; item < count; item++) {
    let offset = item * pooledSize;
    for (const clip of clips) {
      const size = clip.pooledSize;
      pooled.set(clip.pooled?.subarray(item * size, (item + 1) * size) ?? [], offset);
      offset += size;
    }
  }
  return { pooled, pooledSize };
}
