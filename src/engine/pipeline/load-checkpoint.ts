import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CheckpointSource } from '../checkpoint/checkpoint-source.ts';
import { assertFileUnchanged } from '../checkpoint/file-identity.ts';
import { readVaeFile } from '../checkpoint/read-vae-file.ts';
import {
  buildTextEncoder,
  buildUnet,
  buildVaeDecoder,
  buildVaeEncoder,
  type BuiltGraph,
  type GraphPrecision,
  type UnetHeads,
} from '../checkpoint/graphs/index.ts';
import { EngineError } from '../engine-error.ts';
import { FAMILIES } from '../families/families.ts';
import { estimateCheckpointMemory } from '../memory/estimate-memory.ts';
import { assertFitsMemoryBudget } from '../memory/memory-budget.ts';
import { applyModelOverrides } from '../model/apply-model-overrides.ts';
import { checkpointManifest, TEXT_ENCODER_SETTINGS } from '../model/checkpoint-manifest.ts';
import { OnnxModel } from '../onnx/onnx-model.ts';
import { BUNDLED_CLIP_TOKENIZER_DIR } from '../text/bundled-clip-tokenizer.ts';
import { ClipTokenizer } from '../text/clip-tokenizer.ts';
import { quantizeGraph } from '../quantize/quantize-graph.ts';
import type { ModelOverrides, PipelineOptions, WeightQuantization } from '../types.ts';
import { DiffusionPipeline } from './diffusion-pipeline.ts';
import { TextConditioner, type TextEncoderUnit } from './text-conditioning.ts';
import { Vae } from './vae.ts';

/**
 * What a checkpoint's weights cannot say, for architectures other than the released ones (the
 * real models' values are the defaults): head widths, the SDXL size embedding, the tokenizer.
 */
export interface CheckpointGraphSettings {
  /** A tokenizer folder (`merges.txt`, optional `vocab.json`); the bundled CLIP one by default. */
  readonly tokenizerDir?: string;
  /** Attention head width of each text encoder, in order; 64 in every released encoder. */
  readonly textHeadDims?: readonly number[];
  /** UNet attention heads; 8 heads for SD 1.x, 64-wide heads otherwise. */
  readonly unetHeads?: UnetHeads;
  /** SDXL: width of each size/crop embedding in `time_ids`; 256. */
  readonly timeIdWidth?: number;
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

/** Components whose linear layers are quantized: the VAE's few are left exact, for image quality. */
const QUANTIZED_COMPONENTS: ReadonlySet<string> = new Set([
  'unet',
  'text_encoder',
  'text_encoder_2',
]);

/**
 * Compiles a checkpoint's components into ONNX graphs whose weights point into the user's file
 * and creates their sessions (UNet first, the largest). Each file is checked unchanged since its
 * header was read before every session is created over it.
 */
export async function loadCheckpointPipeline(
  location: string,
  source: CheckpointSource,
  options: CheckpointLoadOptions = {},
): Promise<DiffusionPipeline> {
  const manifest = applyModelOverrides(checkpointManifest(location, source), options.overrides);
  const family = FAMILIES[manifest.family];
  const name = options.name ?? path.basename(location).replace(/\.safetensors$/i, '');
  const quantization = options.quantization ?? 'none';
  if (options.memoryBudgetBytes !== undefined) {
    const estimate = estimateCheckpointMemory(location, source);
    assertFitsMemoryBudget(name, estimate, quantization, options.memoryBudgetBytes);
  }
  const settings = options.checkpoint ?? {};
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
  const models: OnnxModel[] = [];
  const create = async (label: string, build: () => BuiltGraph): Promise<OnnxModel> => {
    for (const [file, identity] of files) await assertFileUnchanged(file, identity);
    let { bytes } = build();
    if (quantization !== 'none' && QUANTIZED_COMPONENTS.has(label)) {
      ({ bytes } = await quantizeGraph(bytes, {
        quantization,
        cacheDir: options.cacheDir ?? defaultCacheDir(),
        name: label,
      }));
    }
    const model = await OnnxModel.fromBytes(bytes, label, { ...options, source: location });
    models.push(model);
    return model;
  };
  try {
    const unet = await create('unet', () =>
      buildUnet(components.unet, {
        precision,
        ...(settings.unetHeads ? { heads: settings.unetHeads } : {}),
        ...(settings.timeIdWidth ? { timeIdWidth: settings.timeIdWidth } : {}),
      }),
    );
    const units: TextEncoderUnit[] = [];
    for (const [index, encoder] of components.textEncoders.entries()) {
      const { activation, clipSkip, padToken } = TEXT_ENCODER_SETTINGS[encoder.kind];
      units.push({
        tokenizer: await ClipTokenizer.load(
          settings.tokenizerDir ?? BUNDLED_CLIP_TOKENIZER_DIR,
          padToken ? { padToken } : {},
        ),
        model: await create(index === 0 ? 'text_encoder' : 'text_encoder_2', () =>
          buildTextEncoder(encoder.index, {
            precision,
            activation,
            clipSkip: overrides.clipSkip ?? clipSkip,
            headDim: settings.textHeadDims?.[index] ?? 64,
          }),
        ),
      });
    }
    const vaeIndex = externalVae?.index ?? components.vae;
    if (!vaeIndex) {
      throw new EngineError(
        'MODEL_UNSUPPORTED',
        `${location} carries no VAE: name one with the model's vae override`,
      );
    }
    const vae = new Vae(
      await create('vae_decoder', () => buildVaeDecoder(vaeIndex, { precision })),
      await create('vae_encoder', () => buildVaeEncoder(vaeIndex, { precision })),
      manifest.scalingFactor,
      manifest.shiftFactor,
    );
    return new DiffusionPipeline({
      name,
      manifest,
      text: new TextConditioner(family.selectEncoderOutputs, units),
      unet,
      vae,
      safety: undefined,
      models,
      previewProjection: family.latentFormat.previewProjection,
      family,
    });
  } catch (error) {
    await Promise.all(models.map((model) => model.dispose()));
    throw error;
  }
}

function defaultCacheDir(): string {
  return path.join(tmpdir(), 'pictor-cache');
}
