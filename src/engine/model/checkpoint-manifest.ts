import { EngineError } from '../engine-error.ts';
import type { CheckpointFamily, TextEncoderKind } from '../checkpoint/checkpoint-layout.ts';
import type { CheckpointSource } from '../checkpoint/checkpoint-source.ts';
import type { TensorIndex } from '../checkpoint/tensor-ref.ts';
import type { TextActivation } from '../checkpoint/graphs/index.ts';
import { FAMILIES } from '../families/families.ts';
import type { PredictionType } from '../schedulers/prediction.ts';
import type { SchedulerConfig } from '../schedulers/scheduler.ts';
import { OPENCLIP_PAD_TOKEN } from '../text/bundled-clip-tokenizer.ts';
import type { ModelFamily } from '../types.ts';
import type { ModelManifest } from './model-manifest.ts';

/** What a checkpoint family is to the engine: the parts it runs with and its native size. */
interface CheckpointFamilySpec {
  readonly family: ModelFamily;
  readonly className: string;
  /** Native image side in pixels for a prediction type (SD 2.x 768-v trained at 768). */
  readonly nativeSide: (prediction: PredictionType) => number;
}

const CHECKPOINT_FAMILIES: Readonly<Record<CheckpointFamily, CheckpointFamilySpec>> = {
  sd1: { family: 'sd', className: 'StableDiffusionPipeline', nativeSide: () => 512 },
  sd2: {
    family: 'sd',
    className: 'StableDiffusionPipeline',
    nativeSide: (prediction) => (prediction === 'v_prediction' ? 768 : 512),
  },
  sdxl: { family: 'sdxl', className: 'StableDiffusionXLPipeline', nativeSide: () => 1024 },
};

/** How each text-encoder architecture is tokenized and compiled. */
export interface TextEncoderSettings {
  readonly activation: TextActivation;
  /** 2 = the final-normed penultimate layer as `last_hidden_state` (SD 2.x). */
  readonly clipSkip: number;
  /** OpenCLIP pads with `!`; undefined keeps CLIP's `<|endoftext|>`. */
  readonly padToken: string | undefined;
}

export const TEXT_ENCODER_SETTINGS: Readonly<Record<TextEncoderKind, TextEncoderSettings>> = {
  'clip-l': { activation: 'quick_gelu', clipSkip: 1, padToken: undefined },
  'openclip-h': { activation: 'gelu', clipSkip: 2, padToken: OPENCLIP_PAD_TOKEN },
  // SDXL conditions on the un-normed penultimate `hidden_states.K` (the family's parts pick it).
  'openclip-bigg': { activation: 'gelu', clipSkip: 1, padToken: OPENCLIP_PAD_TOKEN },
};

/** The noise schedule of the original SD 1.x/2.x/XL releases. */
function releaseSchedulerConfig(predictionType: PredictionType): SchedulerConfig {
  return {
    _class_name: 'EulerDiscreteScheduler',
    num_train_timesteps: 1000,
    beta_start: 0.00085,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    prediction_type: predictionType,
    timestep_spacing: 'leading',
    steps_offset: 1,
  };
}

/**
 * The manifest of a single-file or diffusers `.safetensors` checkpoint: what the weights say
 * (latent channels, down-sampling), the family's defaults for everything else. `files` all name
 * the checkpoint location, which the graphs are compiled from.
 */
export function checkpointManifest(location: string, source: CheckpointSource): ModelManifest {
  const { layout, components } = source;
  const spec = CHECKPOINT_FAMILIES[layout.family];
  const vae = components.vae;
  if (!vae) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `${location} carries no VAE; naming a separate VAE file is not supported yet`,
    );
  }
  const vaeScaleFactor = 2 ** countIndexed(vae, /^decoder\.up\.(\d+)\.upsample\.conv\.weight$/);
  const latentChannels = vae.get('decoder.conv_in.weight')?.shape[1] ?? 4;
  const sizeMultiple =
    vaeScaleFactor * 2 ** countIndexed(components.unet, /^input_blocks\.(\d+)\.0\.op\.weight$/);
  const side = spec.nativeSide(layout.predictionType);
  return {
    dir: location,
    family: spec.family,
    className: spec.className,
    schedulerConfig: releaseSchedulerConfig(layout.predictionType),
    defaultScheduler: 'euler',
    vaeScaleFactor,
    latentChannels,
    scalingFactor: FAMILIES[spec.family].latentFormat.scalingFactor,
    shiftFactor: 0,
    unetInChannels: layout.unetInChannels,
    isLcm: false,
    defaults: { width: side, height: side, steps: 20, guidanceScale: 7.5 },
    limits: {
      minSize: sizeMultiple,
      maxSize: 2048,
      sizeMultiple,
      maxSteps: 150,
      maxBatch: 16,
    },
    files: {
      textEncoder: location,
      textEncoder2: components.textEncoders.length > 1 ? location : undefined,
      unet: location,
      vaeDecoder: location,
      vaeEncoder: location,
      safetyChecker: undefined,
    },
    tokenizerDirs: [],
    featureExtractor: undefined,
    previewProjection: undefined,
  };
}

/** How many distinct indices N match `pattern` (whose group 1 is N). */
function countIndexed(index: TensorIndex, pattern: RegExp): number {
  const found = new Set<string>();
  for (const name of index.keys()) {
    const match = pattern.exec(name);
    if (match?.[1] !== undefined) found.add(match[1]);
  }
  return found.size;
}
