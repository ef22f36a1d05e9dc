import path from 'node:path';
import { FAMILIES } from '../families/families.ts';
import { readCheckpoint } from '../checkpoint/read-checkpoint.ts';
import { applyModelOverrides } from '../model/apply-model-overrides.ts';
import { readModelManifest } from '../model/model-manifest.ts';
import {
  type ComponentSession,
  DENOISER_LABEL,
  pipelineComponent,
} from '../onnx/component-session.ts';
import { assertProviderAvailable, OnnxModel } from '../onnx/onnx-model.ts';
import { SafetyChecker } from '../safety/safety-checker.ts';
import { ClipTokenizer } from '../text/clip-tokenizer.ts';
import { EngineError } from '../engine-error.ts';
import type {
  ComponentFiles,
  ModelOverrides,
  PipelineOptions,
  WeightQuantization,
} from '../types.ts';
import { DiffusionPipeline } from './diffusion-pipeline.ts';
import { type CheckpointGraphSettings, loadCheckpointPipeline } from './load-checkpoint.ts';
import { TextConditioner, type TextEncoderUnit } from './text-conditioning.ts';
import { Vae } from './vae.ts';

export interface LoadPipelineOptions extends PipelineOptions {
  /** The model's name in infotexts and results; the folder name by default. */
  readonly name?: string;
  /** Settings that override what the model's files say (default steps, prediction type, …). */
  readonly overrides?: ModelOverrides;
  /** Checkpoints of non-released architectures: what their weights cannot say (head widths, …). */
  readonly checkpoint?: CheckpointGraphSettings;
  /** `int8`/`int4` quantize a checkpoint's linear layers (`.safetensors` only); `none` by default. */
  readonly quantization?: WeightQuantization;
  /** Checkpoints only: refuse one whose estimated memory exceeds this (`MODEL_TOO_LARGE`). */
  readonly memoryBudgetBytes?: number;
  /** A transformer-only `.safetensors` at `dir`: its text encoder and VAE files. */
  readonly components?: ComponentFiles;
}

/**
 * Loads a model. Single-file `.safetensors` checkpoints and diffusers `.safetensors` folders are
 * read and detected first (a bad or unsupported file is refused naming it and the problem), then
 * compiled into ONNX graphs over the file's bytes (`load-checkpoint.ts`). A
 * diffusers ONNX folder is validated and returned as a pipeline ready to generate, each
 * component's session created when first needed; an unusable folder is refused naming the file.
 * On a device other than the CPU one session is created at once, so a device that cannot run
 * fails the load ({@link DiffusionPipeline.proveDevice}).
 */
export async function loadPipeline(
  dir: string,
  options: LoadPipelineOptions = {},
): Promise<DiffusionPipeline> {
  const pipeline = await loadAnyPipeline(dir, options);
  if ((options.executionProvider ?? 'cpu') === 'cpu') return pipeline;
  try {
    await pipeline.proveDevice();
  } catch (error) {
    await pipeline.dispose();
    throw error;
  }
  return pipeline;
}

async function loadAnyPipeline(
  dir: string,
  options: LoadPipelineOptions,
): Promise<DiffusionPipeline> {
  assertProviderAvailable(options.executionProvider ?? 'cpu');
  const checkpoint = await readCheckpoint(dir, {
    preferHalf: (options.executionProvider ?? 'cpu') !== 'cpu',
    components: options.components,
  });
  if (checkpoint) return loadCheckpointPipeline(dir, checkpoint, options);
  for (const setting of ['clipSkip', 'vae'] as const) {
    if (options.overrides?.[setting] !== undefined) {
      throw new EngineError(
        'MODEL_UNSUPPORTED',
        `${dir}: the ${setting} override applies to .safetensors checkpoints; ` +
          'this is an ONNX folder, whose graphs are used as exported',
      );
    }
  }
  if ((options.quantization ?? 'none') !== 'none') {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `${dir}: quantization '${options.quantization}' applies to .safetensors checkpoints; ` +
        'this is an ONNX folder, whose graphs are used as exported (set quantization: none)',
    );
  }
  const manifest = applyModelOverrides(await readModelManifest(dir), options.overrides);
  const { files } = manifest;
  const family = FAMILIES[manifest.family];
  const components: ComponentSession[] = [];
  const component = (file: string, label: string): ComponentSession => {
    const made = pipelineComponent(
      label,
      () => OnnxModel.load(file, label, options),
      options.lowMemory,
    );
    components.push(made);
    return made;
  };
  const unet = component(files.unet, DENOISER_LABEL);
  const encoders = [files.textEncoder, ...(files.textEncoder2 ? [files.textEncoder2] : [])];
  const units: TextEncoderUnit[] = [];
  for (const [index, file] of encoders.entries()) {
    const tokenizerDir = manifest.tokenizerDirs[index] ?? manifest.tokenizerDirs[0] ?? '';
    units.push({
      tokenizer: await ClipTokenizer.load(tokenizerDir),
      model: component(file, index === 0 ? 'text_encoder' : 'text_encoder_2'),
    });
  }
  const vae = new Vae(
    component(files.vaeDecoder, 'vae_decoder'),
    files.vaeEncoder ? component(files.vaeEncoder, 'vae_encoder') : undefined,
    manifest.scalingFactor,
    manifest.shiftFactor,
  );
  const safety =
    files.safetyChecker && manifest.featureExtractor
      ? new SafetyChecker(
          component(files.safetyChecker, 'safety_checker'),
          manifest.featureExtractor,
        )
      : undefined;
  return new DiffusionPipeline({
    name: options.name ?? path.basename(manifest.dir),
    manifest,
    text: new TextConditioner(family.selectEncoderOutputs, units),
    unet,
    vae,
    safety,
    components,
    previewProjection: manifest.previewProjection ?? family.latentFormat.previewProjection,
    family,
  });
}
