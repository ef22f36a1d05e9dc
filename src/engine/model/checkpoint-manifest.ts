import { EngineError } from '../engine-error.ts';
import type {
  CheckpointFamily,
  CheckpointLayout,
  TextEncoderKind,
} from '../checkpoint/checkpoint-layout.ts';
import type { CheckpointSource } from '../checkpoint/checkpoint-source.ts';
import type { TensorIndex } from '../checkpoint/tensor-ref.ts';
import { mmditShape, type TextActivation } from '../checkpoint/graphs/index.ts';
import { FAMILIES } from '../families/families.ts';
import type { AnySchedulerName, SchedulerConfig } from '../schedulers/scheduler.ts';
import { OPENCLIP_PAD_TOKEN } from '../text/bundled-clip-tokenizer.ts';
import type { ModelFamily } from '../types.ts';
import type { ModelManifest } from './model-manifest.ts';
import { SD3_SCHEDULER_CONFIG, sd3Defaults } from './sd3-releases.ts';

/** What a checkpoint family is to the engine: the parts it runs with, its size and sampling. */
interface CheckpointFamilySpec {
  readonly family: ModelFamily;
  readonly className: string;
  /** Native image side in pixels (SD 2.x 768-v was trained at 768). */
  readonly nativeSide: (layout: CheckpointLayout) => number;
  readonly schedulerConfig: (layout: CheckpointLayout) => SchedulerConfig;
  readonly defaultScheduler: AnySchedulerName;
  readonly defaults: (layout: CheckpointLayout) => { steps: number; guidanceScale: number };
  /** Latent cells per side the denoiser needs whole: its down-samplings, or its patch. */
  readonly latentMultiple: (denoiser: TensorIndex) => number;
  /** The largest latent side the denoiser can place (SD3: its position-embedding grid). */
  readonly maxLatentSide: (denoiser: TensorIndex) => number;
  /** Text encoders it cannot run without (SD3 can without T5-XXL). */
  readonly requiredTextEncoders: readonly TextEncoderKind[];
}

/** The original SD 1.x/2.x/XL releases' sampling: Euler over the scaled-linear schedule. */
const UNET_SAMPLING = {
  schedulerConfig: (layout: CheckpointLayout) => releaseSchedulerConfig(layout.predictionType),
  defaultScheduler: 'euler',
  defaults: () => ({ steps: 20, guidanceScale: 7.5 }),
  // Each side must survive every down-sampling of the UNet.
  latentMultiple: (unet: TensorIndex) =>
    2 ** countIndexed(unet, /^input_blocks\.(\d+)\.0\.op\.weight$/),
  maxLatentSide: () => Number.POSITIVE_INFINITY,
} as const;

const CHECKPOINT_FAMILIES: Readonly<Record<CheckpointFamily, CheckpointFamilySpec>> = {
  sd1: {
    family: 'sd',
    className: 'StableDiffusionPipeline',
    nativeSide: () => 512,
    requiredTextEncoders: ['clip-l'],
    ...UNET_SAMPLING,
  },
  sd2: {
    family: 'sd',
    className: 'StableDiffusionPipeline',
    nativeSide: (layout) => (layout.predictionType === 'v_prediction' ? 768 : 512),
    requiredTextEncoders: ['openclip-h'],
    ...UNET_SAMPLING,
  },
  sdxl: {
    family: 'sdxl',
    className: 'StableDiffusionXLPipeline',
    nativeSide: () => 1024,
    requiredTextEncoders: ['clip-l', 'openclip-bigg'],
    ...UNET_SAMPLING,
  },
  sd3: {
    family: 'sd3',
    className: 'StableDiffusion3Pipeline',
    nativeSide: () => 1024,
    schedulerConfig: () => SD3_SCHEDULER_CONFIG,
    defaultScheduler: 'flow_euler',
    requiredTextEncoders: ['clip-l', 'openclip-bigg'],
    defaults: sd3Defaults,
    latentMultiple: (mmdit) => mmditShape(mmdit).patch,
    maxLatentSide: (mmdit) => mmditShape(mmdit).positionGridSide * mmditShape(mmdit).patch,
  },
};

/** The CLIP text encoders (T5-XXL is compiled by its own builder). */
export type ClipEncoderKind = Exclude<TextEncoderKind, 't5-xxl'>;

/** How each CLIP architecture is tokenized and compiled. */
export interface TextEncoderSettings {
  readonly activation: TextActivation;
  /** 2 = the final-normed penultimate layer as `last_hidden_state` (SD 2.x). */
  readonly clipSkip: number;
  /** OpenCLIP pads with `!`; undefined keeps CLIP's `<|endoftext|>`. */
  readonly padToken: string | undefined;
  /** Whether the pooled output goes through the checkpoint's `text_projection`. */
  readonly projection: boolean;
}

export const TEXT_ENCODER_SETTINGS: Readonly<Record<ClipEncoderKind, TextEncoderSettings>> = {
  // SD3 pools CLIP-L unprojected (Stability's `return_projected_pooled=False`); SD 1/XL never pool it.
  'clip-l': { activation: 'quick_gelu', clipSkip: 1, padToken: undefined, projection: false },
  'openclip-h': { activation: 'gelu', clipSkip: 2, padToken: OPENCLIP_PAD_TOKEN, projection: true },
  // SDXL and SD3 condition on the un-normed penultimate `hidden_states.K` (the families pick it).
  'openclip-bigg': {
    activation: 'gelu',
    clipSkip: 1,
    padToken: OPENCLIP_PAD_TOKEN,
    projection: true,
  },
};

/** The noise schedule of the original SD 1.x/2.x/XL releases. */
function releaseSchedulerConfig(
  predictionType: CheckpointLayout['predictionType'],
): SchedulerConfig {
  if (predictionType === 'flow') {
    throw new EngineError('MODEL_INVALID', 'a flow-matching model has no noise schedule');
  }
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
  const present = new Set(components.textEncoders.map(({ kind }) => kind));
  const missing = spec.requiredTextEncoders.filter((kind) => !present.has(kind));
  if (missing.length > 0) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `${location} carries no ${missing.join(' or ')} text encoder; use a file that includes them (SD3: the "incl_clips" single files) or the model's diffusers folder`,
    );
  }
  const vae = components.vae;
  if (!vae) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `${location} carries no VAE; naming a separate VAE file is not supported yet`,
    );
  }
  const vaeScaleFactor = 2 ** countIndexed(vae, /^decoder\.up\.(\d+)\.upsample\.conv\.weight$/);
  const latentChannels = vae.get('decoder.conv_in.weight')?.shape[1] ?? 4;
  const sizeMultiple = vaeScaleFactor * spec.latentMultiple(components.unet);
  const side = spec.nativeSide(layout);
  return {
    dir: location,
    family: spec.family,
    className: spec.className,
    schedulerConfig: spec.schedulerConfig(layout),
    defaultScheduler: spec.defaultScheduler,
    vaeScaleFactor,
    latentChannels,
    scalingFactor: FAMILIES[spec.family].latentFormat.scalingFactor,
    shiftFactor: FAMILIES[spec.family].latentFormat.shiftFactor,
    unetInChannels: layout.unetInChannels,
    isLcm: false,
    defaults: { width: side, height: side, ...spec.defaults(layout) },
    limits: {
      minSize: sizeMultiple,
      maxSize: Math.min(2048, vaeScaleFactor * spec.maxLatentSide(components.unet)),
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
