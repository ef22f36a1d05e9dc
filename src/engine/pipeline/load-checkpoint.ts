import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CheckpointSource } from '../checkpoint/checkpoint-source.ts';
import { assertFileUnchanged } from '../checkpoint/file-identity.ts';
import type { TextEncoderIndex } from '../checkpoint/checkpoint-components.ts';
import type { CheckpointFamily } from '../checkpoint/checkpoint-layout.ts';
import { readVaeFile } from '../checkpoint/read-vae-file.ts';
import {
  buildFluxTransformer,
  buildMmdit,
  buildT5Encoder,
  buildTextEncoder,
  buildUnet,
  buildVaeDecoder,
  buildVaeEncoder,
  buildQwen3Encoder,
  buildZImageTransformer,
  fluxTransformerShape,
  zImageTransformerShape,
  type BuiltGraph,
  type GraphPrecision,
  type UnetHeads,
} from '../checkpoint/graphs/index.ts';
import type { TensorIndex } from '../checkpoint/tensor-ref.ts';
import { EngineError } from '../engine-error.ts';
import { FAMILIES } from '../families/families.ts';
import { estimateCheckpointMemory } from '../memory/estimate-memory.ts';
import { assertFitsMemoryBudget } from '../memory/memory-budget.ts';
import { applyModelOverrides } from '../model/apply-model-overrides.ts';
import type { RotaryAxes } from '../flow/rotary-positions.ts';
import {
  checkpointManifest,
  t5Settings,
  TEXT_ENCODER_SETTINGS,
} from '../model/checkpoint-manifest.ts';
import { withPictorJson } from '../model/pictor-json.ts';
import { createCompiledModel } from '../onnx/compiled-model.ts';
import {
  type ComponentSession,
  DENOISER_LABEL,
  pipelineComponent,
} from '../onnx/component-session.ts';
import {
  BUNDLED_CLIP_TOKENIZER_DIR,
  BUNDLED_QWEN3_TOKENIZER_DIR,
  BUNDLED_T5_TOKENIZER_DIR,
} from '../text/bundled-tokenizers.ts';
import { ClipTokenizer } from '../text/clip-tokenizer.ts';
import { Qwen3Tokenizer } from '../text/qwen3-tokenizer.ts';
import { T5Tokenizer } from '../text/t5-tokenizer.ts';
import { resolveTokenizerDir } from '../text/tokenizer-json.ts';
import type { ModelOverrides, PipelineOptions, WeightQuantization } from '../types.ts';
import { quantizeGraph } from '../quantize/quantize-graph.ts';
import { DiffusionPipeline } from './diffusion-pipeline.ts';
import { concatHidden, TextConditioner, type TextEncoderUnit } from './text-conditioning.ts';
import { Vae } from './vae.ts';

/**
 * What a checkpoint's weights cannot say, for architectures other than the released ones (the
 * real models' values are the defaults): head widths, the SDXL size embedding, the tokenizer.
 */
export interface CheckpointGraphSettings {
  /** A tokenizer folder (`merges.txt`, optional `vocab.json`); default: the model's own, else the bundled CLIP one. */
  readonly tokenizerDir?: string;
  /** Attention head width of each text encoder, in order; 64 in every released encoder. */
  readonly textHeadDims?: readonly number[];
  /** UNet attention heads; 8 heads for SD 1.x, 64-wide heads otherwise. */
  readonly unetHeads?: UnetHeads;
  /** SDXL: width of each size/crop embedding in `time_ids`; 256. */
  readonly timeIdWidth?: number;
  /**
   * A folder holding T5's `tokenizer.json`. Default: the diffusers folder's `tokenizer_2/` (SD3:
   * `tokenizer_3/`), or for a single file that folder beside it (FLUX.1's own, from its Hugging
   * Face repository), else the bundled T5-XXL one (`models/t5-tokenizer/`).
   */
  readonly t5TokenizerDir?: string;
  /**
   * A folder holding Qwen3's `tokenizer.json`. Default: the diffusers folder's `tokenizer/`, or a
   * `tokenizer/` beside a single file, else the bundled Z-Image-Turbo one (`models/qwen3-tokenizer/`).
   */
  readonly qwen3TokenizerDir?: string;
  /** FLUX: the rotary axes; FLUX.1's [16, 56, 56] at θ 10000 for 128-wide heads. */
  readonly rotaryAxes?: RotaryAxes;
  /** The VAE's GroupNorm groups (diffusers' `norm_num_groups`); 32 in every released VAE. */
  readonly vaeNormGroups?: number;
}

/** FLUX.1's rotary position axes (BFL `axes_dim`, `theta`), for its 128-wide heads. */
const FLUX1_ROTARY_AXES: RotaryAxes = { dims: [16, 56, 56], theta: 10000 };

/** How a family's denoiser is compiled, and what it needs beyond its graph. */
interface DenoiserSpec {
  readonly graph: (
    index: TensorIndex,
    settings: CheckpointGraphSettings,
    precision: GraphPrecision,
  ) => BuiltGraph;
  readonly rotaryAxes?: (index: TensorIndex, settings: CheckpointGraphSettings) => RotaryAxes;
}

/** Each family's denoiser: an SD UNet, the FLUX transformer, SD3's MMDiT. */
const DENOISERS: Readonly<Record<CheckpointFamily, DenoiserSpec>> = {
  sd1: { graph: unetGraph },
  sd2: { graph: unetGraph },
  sdxl: { graph: unetGraph },
  flux: {
    graph: (index, _settings, precision) => buildFluxTransformer(index, { precision }),
    rotaryAxes: rotaryAxesOf,
  },
  sd3: { graph: (index, _settings, precision) => buildMmdit(index, { precision }) },
  zimage: {
    graph: (index, _settings, precision) => buildZImageTransformer(index, { precision }),
    rotaryAxes: zImageRotaryAxesOf,
  },
};

function unetGraph(
  index: TensorIndex,
  settings: CheckpointGraphSettings,
  precision: GraphPrecision,
): BuiltGraph {
  return buildUnet(index, {
    precision,
    ...(settings.unetHeads ? { heads: settings.unetHeads } : {}),
    ...(settings.timeIdWidth ? { timeIdWidth: settings.timeIdWidth } : {}),
  });
}

/** The rotary axes of a FLUX transformer: configured, or FLUX.1's for its head width. */
function rotaryAxesOf(index: TensorIndex, settings: CheckpointGraphSettings): RotaryAxes {
  if (settings.rotaryAxes) return settings.rotaryAxes;
  const { headDim } = fluxTransformerShape(index);
  if (headDim === 128) return FLUX1_ROTARY_AXES;
  throw new EngineError(
    'MODEL_UNSUPPORTED',
    `a FLUX transformer with ${headDim}-wide heads: its rotary axes are not FLUX.1's; set them`,
  );
}

/** Z-Image-Turbo's rotary axes (`axes_dims`, `rope_theta`), for its 128-wide heads. */
const Z_IMAGE_ROTARY_AXES: RotaryAxes = { dims: [32, 48, 48], theta: 256 };

/** The rotary axes of a Z-Image transformer: its folder's config, or Z-Image-Turbo's. */
function zImageRotaryAxesOf(index: TensorIndex, settings: CheckpointGraphSettings): RotaryAxes {
  if (settings.rotaryAxes) return settings.rotaryAxes;
  const { headDim } = zImageTransformerShape(index);
  if (headDim === 128) return Z_IMAGE_ROTARY_AXES;
  throw new EngineError(
    'MODEL_UNSUPPORTED',
    `a Z-Image transformer with ${headDim}-wide heads and no transformer/config.json axes_dims: its rotary axes are unknown`,
  );
}

export interface CheckpointLoadOptions extends PipelineOptions {
  readonly name?: string;
  readonly overrides?: ModelOverrides;
  readonly checkpoint?: CheckpointGraphSettings;
  /** Linear-layer weights of the denoiser and text encoders; `none` by default. */
  readonly quantization?: WeightQuantization;
  /**
   * Refuse (`MODEL_TOO_LARGE`) a checkpoint whose estimated memory at its quantization exceeds
   * this many bytes, naming the quantization that would fit; no check when absent.
   */
  readonly memoryBudgetBytes?: number;
}

/** Components whose linear layers are quantized (T5-XXL is SD3's third): the VAE's few are left exact, for image quality. */
const QUANTIZED_COMPONENTS: ReadonlySet<string> = new Set([
  'unet',
  'text_encoder',
  'text_encoder_2',
  'text_encoder_3',
]);

/**
 * Compiles a checkpoint's components into ONNX graphs whose weights point into the user's file;
 * each component's session is created when first needed. Each file is checked unchanged since
 * its header was read before every graph is built and every session created over it.
 */
export async function loadCheckpointPipeline(
  location: string,
  source: CheckpointSource,
  options: CheckpointLoadOptions = {},
): Promise<DiffusionPipeline> {
  const manifest = applyModelOverrides(
    await withPictorJson(checkpointManifest(location, source)),
    options.overrides,
  );
  const family = FAMILIES[manifest.family];
  const name = options.name ?? path.basename(location).replace(/\.safetensors$/i, '');
  const quantization = options.quantization ?? 'none';
  if (options.memoryBudgetBytes !== undefined) {
    const estimate = estimateCheckpointMemory(location, source, {
      coldStartFoldsInOrt: options.cacheDir === undefined || options.cacheOptimizedModels === false,
    });
    assertFitsMemoryBudget(
      name,
      estimate,
      quantization,
      options.memoryBudgetBytes,
      options.lowMemory,
    );
  }
  // Explicit settings first, then what a diffusers folder's configs say, then released defaults.
  const settings: CheckpointGraphSettings = { ...source.architecture, ...options.checkpoint };
  const precision: GraphPrecision =
    (options.executionProvider ?? 'cpu') === 'cpu' ? 'fp32' : 'fp16';
  const { components } = source;
  const overrides = options.overrides ?? {};
  const externalVae = overrides.vae === undefined ? undefined : await readVaeFile(overrides.vae);
  const files = new Map([...source.files, ...(externalVae?.files ?? [])]);
  if (overrides.clipSkip !== undefined && manifest.family !== 'sd') {
    throw new EngineError(
      'MODEL_INVALID',
      `clipSkip override: ${location} is ${manifest.family}, which conditions on fixed layers; ` +
        'clip skip applies to SD 1.x/2.x',
    );
  }
  const sessions: ComponentSession[] = [];
  // Graphs are built (and quantized) now, so a checkpoint they cannot describe is refused at
  // load; their sessions, which hold the weights, are created when first needed.
  const create = async (label: string, build: () => BuiltGraph): Promise<ComponentSession> => {
    for (const [file, identity] of files) await assertFileUnchanged(file, identity);
    let { bytes } = build();
    if (quantization !== 'none' && QUANTIZED_COMPONENTS.has(label)) {
      ({ bytes } = await quantizeGraph(bytes, {
        quantization,
        cacheDir: options.cacheDir ?? defaultCacheDir(),
        name: label,
      }));
    }
    const session = pipelineComponent(
      label,
      async () => {
        // The weights are read now, not at load: each session checks its files again.
        for (const [file, identity] of files) await assertFileUnchanged(file, identity);
        return createCompiledModel(bytes, label, {
          ...options,
          source: location,
          files,
          variant: quantization,
          ...(options.cacheDir === undefined || options.cacheOptimizedModels === false
            ? {}
            : { optimizedCacheDir: options.cacheDir }),
        });
      },
      options.lowMemory,
    );
    sessions.push(session);
    return session;
  };
  const { layout } = source;
  const denoiser = DENOISERS[layout.family];
  const unet = await create(DENOISER_LABEL, () =>
    denoiser.graph(components.unet, settings, precision),
  );
  const textUnit = async (encoder: TextEncoderIndex, index: number): Promise<TextEncoderUnit> => {
    const label = index === 0 ? 'text_encoder' : `text_encoder_${index + 1}`;
    if (encoder.kind === 'qwen3') {
      const tokenizerDir = await resolveTokenizerDir(
        settings.qwen3TokenizerDir,
        [source.tokenizerDirs?.qwen3, path.join(path.dirname(location), 'tokenizer')],
        BUNDLED_QWEN3_TOKENIZER_DIR,
      );
      return {
        tokenizer: await Qwen3Tokenizer.load(tokenizerDir),
        model: await create(label, () => buildQwen3Encoder(encoder.index, { precision })),
      };
    }
    if (encoder.kind === 't5') {
      const t5 = t5Settings(layout);
      const tokenizerDir = await resolveTokenizerDir(
        settings.t5TokenizerDir,
        [source.tokenizerDirs?.t5, path.join(path.dirname(location), t5.tokenizerFolder)],
        BUNDLED_T5_TOKENIZER_DIR,
      );
      return {
        tokenizer: await T5Tokenizer.load(tokenizerDir, t5.tokens),
        model: await create(label, () => buildT5Encoder(encoder.index, { precision })),
      };
    }
    const { activation, clipSkip, padToken, projection } = TEXT_ENCODER_SETTINGS[encoder.kind];
    return {
      tokenizer: await ClipTokenizer.load(
        settings.tokenizerDir ?? source.tokenizerDirs?.[encoder.kind] ?? BUNDLED_CLIP_TOKENIZER_DIR,
        padToken ? { padToken } : {},
      ),
      model: await create(label, () =>
        buildTextEncoder(encoder.index, {
          precision,
          activation,
          clipSkip: overrides.clipSkip ?? clipSkip,
          projection,
          headDim: settings.textHeadDims?.[index] ?? 64,
        }),
      ),
    };
  };
  const units: TextEncoderUnit[] = [];
  for (const [index, encoder] of components.textEncoders.entries()) {
    // SD3 runs without T5 when told to (zeros in its place): 19 GB less in fp32.
    if (encoder.kind === 't5' && options.overrides?.t5 === false) continue;
    units.push(await textUnit(encoder, index));
  }
  const join = family.combineText;
  const vaeIndex = externalVae?.index ?? components.vae;
  if (!vaeIndex) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `${location} carries no VAE: name one with the model's vae override`,
    );
  }
  // A separate VAE file (the `vae` override) is a single file: LDM's 32 groups, whatever the
  // folder's own VAE said.
  const vaeOptions = {
    precision,
    ...(externalVae || settings.vaeNormGroups === undefined
      ? {}
      : { normGroups: settings.vaeNormGroups }),
  };
  const vae = new Vae(
    await create('vae_decoder', () => buildVaeDecoder(vaeIndex, vaeOptions)),
    await create('vae_encoder', () => buildVaeEncoder(vaeIndex, vaeOptions)),
    manifest.scalingFactor,
    manifest.shiftFactor,
  );
  return new DiffusionPipeline({
    name,
    manifest,
    text: new TextConditioner(
      family.selectEncoderOutputs,
      units,
      join
        ? async (parts, count) => {
            // The width the denoiser's text input takes (SD3: T5's), read from its session.
            const model = await unet.model();
            const tokenWidth = model.input('encoder_hidden_states').shape[2];
            return typeof tokenWidth === 'number'
              ? join(parts, count, { tokenWidth })
              : concatHidden(parts, count);
          }
        : undefined,
    ),
    unet,
    vae,
    safety: undefined,
    components: sessions,
    previewProjection: manifest.previewProjection ?? family.latentFormat.previewProjection,
    family,
    ...(denoiser.rotaryAxes ? { rotaryAxes: denoiser.rotaryAxes(components.unet, settings) } : {}),
  });
}

function defaultCacheDir(): string {
  return path.join(tmpdir(), 'pictor-cache');
}
