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
import type { PredictionType } from '../schedulers/prediction.ts';
import type { AnySchedulerName, SchedulerConfig } from '../schedulers/scheduler.ts';
import { OPENCLIP_PAD_TOKEN } from '../text/bundled-tokenizers.ts';
import type { ModelFamily } from '../types.ts';
import type { ModelManifest } from './model-manifest.ts';
import { sd3Sampling } from './sd3-releases.ts';

/** How a release samples by default: its schedule, sampler, steps and guidance. */
interface ReleaseSampling {
  readonly schedulerConfig: SchedulerConfig;
  readonly defaultScheduler: AnySchedulerName;
  readonly steps: number;
  readonly guidanceScale: number;
}

/** What a checkpoint family is to the engine: the parts it runs with and its native size. */
interface CheckpointFamilySpec {
  readonly family: ModelFamily;
  readonly className: string;
  /** Native image side in pixels (SD 2.x 768-v trained at 768). */
  readonly nativeSide: (layout: CheckpointLayout) => number;
  readonly sampling: (layout: CheckpointLayout) => ReleaseSampling;
  /** Latent cells per side each denoiser position covers: UNet down-sampling, FLUX's 2×2 patches. */
  readonly latentMultiple: (denoiser: TensorIndex) => number;
  /** The largest latent side the denoiser can place (SD3: its position-embedding grid). */
  readonly maxLatentSide?: (denoiser: TensorIndex) => number;
  /** Text encoders it cannot run without (SD3 can without T5). */
  readonly requiredTextEncoders: readonly TextEncoderKind[];
  /** T5 tokens per prompt, for families with a T5 encoder. */
  readonly t5Tokens?: (layout: CheckpointLayout) => number;
  /** Where a single file's T5 tokenizer sits beside it in the release's repository. */
  readonly t5TokenizerFolder?: string;
}

/** The noise schedule and sampler of the original SD 1.x/2.x/XL releases. */
const sdSampling = (layout: CheckpointLayout): ReleaseSampling => ({
  schedulerConfig: releaseSchedulerConfig(layout.predictionType),
  defaultScheduler: 'euler',
  steps: 20,
  guidanceScale: 7.5,
});
const unetMultiple = (unet: TensorIndex): number =>
  2 ** countIndexed(unet, /^input_blocks\.(\d+)\.0\.op\.weight$/);

/**
 * FLUX.1 as Black Forest Labs and diffusers ship it: schnell 4 steps, no guidance, no shift;
 * dev 28 steps at guidance 3.5 with the resolution-dependent shift.
 */
function fluxSampling(layout: CheckpointLayout): ReleaseSampling {
  const flow = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000 };
  return layout.guidanceDistilled
    ? {
        schedulerConfig: {
          ...flow,
          shift: 3,
          use_dynamic_shifting: true,
          base_shift: 0.5,
          max_shift: 1.15,
          base_image_seq_len: 256,
          max_image_seq_len: 4096,
        },
        defaultScheduler: 'flow_euler',
        steps: 28,
        guidanceScale: 3.5,
      }
    : {
        schedulerConfig: { ...flow, shift: 1, use_dynamic_shifting: false },
        defaultScheduler: 'flow_euler',
        steps: 4,
        guidanceScale: 0,
      };
}

/**
 * Z-Image-Turbo as Tongyi-MAI ships it: its scheduler config (shift 3, no dynamic shifting) and
 * the model card's run, 8 transformer calls without guidance (the card's
 * `num_inference_steps=9` in older diffusers, whose last step is at σ = 0).
 */
const zImageSampling = (): ReleaseSampling => ({
  schedulerConfig: {
    _class_name: 'FlowMatchEulerDiscreteScheduler',
    num_train_timesteps: 1000,
    shift: 3,
    use_dynamic_shifting: false,
  },
  defaultScheduler: 'flow_euler',
  steps: 8,
  guidanceScale: 0,
});

const CHECKPOINT_FAMILIES: Readonly<Record<CheckpointFamily, CheckpointFamilySpec>> = {
  sd1: {
    family: 'sd',
    className: 'StableDiffusionPipeline',
    nativeSide: () => 512,
    sampling: sdSampling,
    latentMultiple: unetMultiple,
    requiredTextEncoders: ['clip-l'],
  },
  sd2: {
    family: 'sd',
    className: 'StableDiffusionPipeline',
    nativeSide: (layout) => (layout.predictionType === 'v_prediction' ? 768 : 512),
    sampling: sdSampling,
    latentMultiple: unetMultiple,
    requiredTextEncoders: ['openclip-h'],
  },
  sdxl: {
    family: 'sdxl',
    className: 'StableDiffusionXLPipeline',
    nativeSide: () => 1024,
    sampling: sdSampling,
    latentMultiple: unetMultiple,
    requiredTextEncoders: ['clip-l', 'openclip-bigg'],
  },
  flux: {
    family: 'flux',
    className: 'FluxPipeline',
    nativeSide: () => 1024,
    sampling: fluxSampling,
    latentMultiple: () => 2,
    requiredTextEncoders: ['clip-l', 't5'],
    // BFL runs FLUX.1-schnell at 256 tokens and dev (guidance-distilled) at 512.
    t5Tokens: (layout) => (layout.guidanceDistilled ? 512 : 256),
    t5TokenizerFolder: 'tokenizer_2',
  },
  sd3: {
    family: 'sd3',
    className: 'StableDiffusion3Pipeline',
    nativeSide: () => 1024,
    sampling: sd3Sampling,
    latentMultiple: (mmdit) => mmditShape(mmdit).patch,
    maxLatentSide: (mmdit) => mmditShape(mmdit).positionGridSide * mmditShape(mmdit).patch,
    requiredTextEncoders: ['clip-l', 'openclip-bigg'],
    // sd3_infer.py pads T5 to 77 tokens (diffusers' 256 is not what SD3 was trained on).
    t5Tokens: () => 77,
    t5TokenizerFolder: 'tokenizer_3',
  },
  zimage: {
    family: 'zimage',
    className: 'ZImagePipeline',
    nativeSide: () => 1024,
    sampling: zImageSampling,
    latentMultiple: () => 2,
    requiredTextEncoders: ['qwen3'],
  },
};

/**
 * T5's tokens per prompt and, for a single file, the tokenizer folder beside it (the release's
 * Hugging Face repository holds the single file and the diffusers folders side by side).
 */
export function t5Settings(layout: CheckpointLayout): { tokens: number; tokenizerFolder: string } {
  const spec = CHECKPOINT_FAMILIES[layout.family];
  return {
    tokens: spec.t5Tokens?.(layout) ?? 256,
    tokenizerFolder: spec.t5TokenizerFolder ?? 'tokenizer_2',
  };
}

/** How each CLIP architecture is tokenized and compiled (T5 and Qwen3 have their own builders). */
export interface TextEncoderSettings {
  readonly activation: TextActivation;
  /** 2 = the final-normed penultimate layer as `last_hidden_state` (SD 2.x). */
  readonly clipSkip: number;
  /** OpenCLIP pads with `!`; undefined keeps CLIP's `<|endoftext|>`. */
  readonly padToken: string | undefined;
  /** Whether `text_embeds` (the pooled output through `text_projection`) is output. */
  readonly projection: boolean;
}

export const TEXT_ENCODER_SETTINGS: Readonly<
  Record<Exclude<TextEncoderKind, 't5' | 'qwen3'>, TextEncoderSettings>
> = {
  // SD3 pools CLIP-L unprojected (Stability's `return_projected_pooled=False`), FLUX takes its
  // pooler_output, SD 1/XL never pool it.
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
  const present = new Set(components.textEncoders.map(({ kind }) => kind));
  const missing = spec.requiredTextEncoders.filter((kind) => !present.has(kind));
  if (missing.length > 0) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `${location} carries no ${missing.join(' or ')} text encoder; use a file that includes them (SD3: the "incl_clips" single files), the model's diffusers folder, or name its separate files in the model's components (clipL, clipG, t5, vae)`,
    );
  }
  const vae = components.vae;
  if (!vae) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `${location} carries no VAE: name its VAE file in the model's components`,
    );
  }
  const vaeScaleFactor = 2 ** countIndexed(vae, /^decoder\.up\.(\d+)\.upsample\.conv\.weight$/);
  const latentChannels = vae.get('decoder.conv_in.weight')?.shape[1] ?? 4;
  const sizeMultiple = vaeScaleFactor * spec.latentMultiple(components.unet);
  const side = spec.nativeSide(layout);
  const sampling = spec.sampling(layout);
  const { latentFormat } = FAMILIES[spec.family];
  return {
    dir: location,
    family: spec.family,
    className: spec.className,
    schedulerConfig: sampling.schedulerConfig,
    defaultScheduler: sampling.defaultScheduler,
    vaeScaleFactor,
    latentChannels,
    scalingFactor: latentFormat.scalingFactor,
    shiftFactor: latentFormat.shiftFactor,
    unetInChannels: layout.unetInChannels,
    isLcm: false,
    defaults: {
      width: side,
      height: side,
      steps: sampling.steps,
      guidanceScale: sampling.guidanceScale,
    },
    limits: {
      minSize: sizeMultiple,
      maxSize: Math.min(
        2048,
        vaeScaleFactor * (spec.maxLatentSide?.(components.unet) ?? Number.POSITIVE_INFINITY),
      ),
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
