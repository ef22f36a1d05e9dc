import { EngineError } from '../engine-error.ts';
import type { PredictionType } from '../schedulers/prediction.ts';
import type { CheckpointFamily, CheckpointLayout } from './checkpoint-layout.ts';
import { detectFluxCheckpoint, FLUX_MARKER } from './detect-flux.ts';
import { indexUnderPrefix } from './index-views.ts';
import { refuseZImageFile } from './detect-z-image.ts';
import { Z_IMAGE_MARKER } from './z-image-transformer-names.ts';
import { detectSd3, MMDIT_PREFIXED_MARKER } from './detect-sd3.ts';
import { readTensorValues, standardDeviation } from './read-tensor-values.ts';
import { TEXT_ENCODER_PREFIXES, UNET_PREFIX, VAE_PREFIX } from './single-file-prefixes.ts';
import type { TensorIndex, TensorRef } from './tensor-ref.ts';

interface Recognizer {
  /** What the file is, as the refusal says it. */
  readonly found: string;
  readonly matches: (names: readonly string[]) => boolean;
}

const endsWith =
  (...suffixes: string[]) =>
  (names: readonly string[]): boolean =>
    names.some((name) => suffixes.some((suffix) => name.endsWith(suffix)));
const includes =
  (...parts: string[]) =>
  (names: readonly string[]): boolean =>
    names.some((name) => parts.some((part) => name.includes(part)));

/** Files that are not a checkpoint the engine runs, recognised to say what they are. */
const OTHER_FILES: readonly Recognizer[] = [
  {
    found:
      "an SD3 / SD 3.5 MMDiT without the single-file 'model.diffusion_model.' prefix: use the released single file or the diffusers folder",
    matches: endsWith('joint_blocks.0.context_block.attn.qkv.weight'),
  },
  {
    found: 'a Lumina 2 transformer: not supported',
    matches: endsWith('cap_embedder.1.weight'),
  },
  {
    found: 'a LoRA, not a checkpoint (LoRAs are not supported yet)',
    matches: includes('lora_up.', 'lora_down.', '.lora_A.', '.lora_B.', 'lora_unet_', '.hada_w1'),
  },
  {
    found: 'a ControlNet, not a checkpoint (ControlNets are not supported yet)',
    matches: includes('control_model.', 'input_hint_block.', 'controlnet_cond_embedding.'),
  },
  {
    found: 'a textual-inversion embedding, not a checkpoint',
    matches: endsWith('emb_params', 'string_to_param.*'),
  },
];

/** Recognised only when the file has no UNet of its own. */
const PARTS: readonly Recognizer[] = [
  {
    found: 'a VAE only: name it as the `vae` of a model whose checkpoint has a UNet',
    matches: endsWith('decoder.conv_in.weight', 'decoder.up_blocks.0.resnets.0.norm1.weight'),
  },
  {
    found: 'a text encoder only, not a full checkpoint',
    matches: includes(
      'text_model.encoder.layers.0.',
      'transformer.resblocks.0.',
      'encoder.block.0.',
    ),
  },
  {
    found: 'a diffusers UNet on its own: point Pictor at the whole diffusers folder',
    matches: endsWith('down_blocks.0.resnets.0.conv1.weight'),
  },
  {
    found: 'a UNet without its text encoder and VAE: use a full single-file checkpoint',
    matches: endsWith('input_blocks.0.0.weight'),
  },
];

/**
 * Detects the family, prediction type and inpainting variant of a single-file checkpoint from its
 * tensor names and shapes (the rules of ComfyUI's `model_detection.py` and stable-diffusion.cpp);
 * FLUX files are described by `detect-flux.ts`, SD3 files by `detect-sd3.ts` (also from their
 * `__metadata__`). Anything else is refused with `MODEL_UNSUPPORTED` saying what the file is.
 */
export async function detectCheckpoint(
  file: string,
  index: TensorIndex,
  metadata: Readonly<Record<string, string>> = {},
): Promise<CheckpointLayout> {
  if (index.has(MMDIT_PREFIXED_MARKER)) {
    return detectSd3(file, index, indexUnderPrefix(index, UNET_PREFIX), metadata);
  }
  const names = [...index.keys()];
  const unsupported = (found: string): EngineError =>
    new EngineError('MODEL_UNSUPPORTED', `${file} is ${found}`);
  if (endsWith(FLUX_MARKER)(names)) return detectFluxCheckpoint(file, index);
  if (endsWith(Z_IMAGE_MARKER)(names)) refuseZImageFile(file, index);
  const other = OTHER_FILES.find((recognizer) => recognizer.matches(names));
  if (other) throw unsupported(other.found);
  const conv = index.get(`${UNET_PREFIX}input_blocks.0.0.weight`);
  if (!conv) {
    const part = PARTS.find((recognizer) => recognizer.matches(names));
    throw unsupported(part?.found ?? `not a Stable Diffusion checkpoint (${describe(names)})`);
  }
  const { family, unetInChannels } = describeUnet(
    file,
    indexUnderPrefix(index, UNET_PREFIX),
    (width) => narrowFamilyByTextEncoder(index, width),
  );
  if (index.has(`edm_vpred.sigma_max`)) throw unsupported('an EDM v-prediction (CosXL) model');
  const encoders = TEXT_ENCODER_PREFIXES[family];
  const missing = encoders.find(({ prefix }) => !names.some((name) => name.startsWith(prefix)));
  if (missing) {
    throw new EngineError(
      'MODEL_INVALID',
      `${file} has a ${family.toUpperCase()} UNet but no ${missing.kind} text encoder ` +
        `(no "${missing.prefix}*" tensors)`,
    );
  }
  return {
    family,
    predictionType:
      declaredPrediction(metadata) ?? (await predictionTypeOf(family, unetInChannels, index)),
    unetInChannels,
    textEncoders: encoders.map(({ kind }) => kind),
    hasVae: index.has(`${VAE_PREFIX}decoder.conv_in.weight`),
  };
}

/**
 * The family of an SD UNet in LDM/SGM names (prefix removed), by its cross-attention width (the
 * text embedding it reads) and class embedding, and its input channels (9: inpainting). A width
 * no released model has is asked of `narrowFamily` (a single file's own text encoder), if given.
 */
export function describeUnet(
  file: string,
  unet: TensorIndex,
  narrowFamily?: (width: number) => CheckpointFamily | undefined,
): { family: CheckpointFamily; unetInChannels: number } {
  const unsupported = (found: string): EngineError =>
    new EngineError('MODEL_UNSUPPORTED', `${file} is ${found}`);
  const toK = [...unet.keys()].find((name) => name.endsWith('attn2.to_k.weight'));
  const width = toK ? unet.get(toK)?.shape[1] : undefined;
  const classEmbedding = unet.get('label_emb.0.0.weight')?.shape[1];
  const unetInChannels = unet.get('input_blocks.0.0.weight')?.shape[1] ?? 0;
  const narrow =
    width !== undefined && classEmbedding === undefined ? narrowFamily?.(width) : undefined;
  const family = narrow ?? familyByWidth(width, classEmbedding, unsupported);
  if (unetInChannels === 8) throw unsupported('an InstructPix2Pix UNet (8 input channels)');
  if (unetInChannels !== 4 && unetInChannels !== 9) {
    throw unsupported(`a UNet with ${unetInChannels} input channels (4 or 9 are supported)`);
  }
  return { family, unetInChannels };
}

/**
 * Where each SD family's single file keeps its text encoder's final norm, whose length is the
 * encoder's width: CLIP-L's Hugging Face layout (old SD 1 files lack `text_model.`) for SD 1.x,
 * OpenCLIP's for SD 2.x.
 */
const FINAL_NORMS: readonly { family: CheckpointFamily; names: readonly string[] }[] = [
  {
    family: 'sd1',
    names: [
      'cond_stage_model.transformer.text_model.final_layer_norm.weight',
      'cond_stage_model.transformer.final_layer_norm.weight',
    ],
  },
  { family: 'sd2', names: ['cond_stage_model.model.ln_final.weight'] },
];

/**
 * A UNet narrower than the released ones (a small model trained in SD's architecture) is SD 1.x
 * or 2.x by the text encoder the file ships with, when that encoder is exactly as wide as the
 * UNet's cross-attention input: the released widths (768, 1024) say the same for real files.
 */
function narrowFamilyByTextEncoder(
  index: TensorIndex,
  width: number,
): CheckpointFamily | undefined {
  return FINAL_NORMS.find(({ names }) => names.some((name) => index.get(name)?.shape[0] === width))
    ?.family;
}

function familyByWidth(
  width: number | undefined,
  classEmbedding: number | undefined,
  unsupported: (found: string) => EngineError,
): CheckpointFamily {
  if (width === 768) return 'sd1';
  if (width === 1024) return 'sd2';
  if (width === 2048 && classEmbedding === 2816) return 'sdxl';
  if (width === 1280 && classEmbedding === 2560) {
    throw unsupported('an SDXL refiner: not supported (it only refines an SDXL base model)');
  }
  throw unsupported(`a UNet with a cross-attention width of ${width ?? 'none'}, not SD 1/2/XL`);
}

/**
 * What a file's `__metadata__` says it predicts, the only word a header can have on it (SD 2.x
 * 768-v and 512-base have the same names and shapes): ComfyUI's saves write
 * `modelspec.predict_key`, Stability's ModelSpec `modelspec.prediction_type` and an architecture
 * such as `stable-diffusion-v2-768-v`, kohya's trainer `ss_v_parameterization`.
 */
function declaredPrediction(
  metadata: Readonly<Record<string, string>>,
): PredictionType | undefined {
  const stated = metadata['modelspec.predict_key'] ?? metadata['modelspec.prediction_type'];
  if (stated === 'v' || stated === 'v_prediction') return 'v_prediction';
  if (stated === 'epsilon' || stated === 'eps') return 'epsilon';
  const kohya = metadata['ss_v_parameterization']?.toLowerCase();
  if (kohya === 'true') return 'v_prediction';
  if (kohya === 'false') return 'epsilon';
  if (metadata['modelspec.architecture']?.endsWith('-v')) return 'v_prediction';
  return undefined;
}

/**
 * Without metadata: SD 2.x 768-v checkpoints are v-prediction and nothing in their names says so; ComfyUI tells
 * them apart by the spread of one late norm's bias (> 0.09 in v-models). SDXL v-models carry a
 * `v_pred` marker. 9-channel SD 2 inpainting models are epsilon.
 */
async function predictionTypeOf(
  family: CheckpointFamily,
  inChannels: number,
  index: TensorIndex,
): Promise<PredictionType> {
  if (family === 'sdxl') return index.has('v_pred') ? 'v_prediction' : 'epsilon';
  if (family !== 'sd2' || inChannels !== 4) return 'epsilon';
  const bias: TensorRef | undefined = index.get(
    `${UNET_PREFIX}output_blocks.11.1.transformer_blocks.0.norm1.bias`,
  );
  if (!bias) return 'epsilon';
  return standardDeviation(await readTensorValues(bias)) > 0.09 ? 'v_prediction' : 'epsilon';
}

function describe(names: readonly string[]): string {
  const examples = names.slice(0, 3).map((name) => `"${name}"`);
  return `${names.length} tensors${examples.length ? `, e.g. ${examples.join(', ')}` : ''}`;
}
