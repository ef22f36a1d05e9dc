import path from 'node:path';
import { defaultLatentProjection } from '../image/latent-preview.ts';
import { applyModelOverrides } from '../model/apply-model-overrides.ts';
import { readModelManifest } from '../model/model-manifest.ts';
import { OnnxModel } from '../onnx/onnx-model.ts';
import { SafetyChecker } from '../safety/safety-checker.ts';
import { ClipTokenizer } from '../text/clip-tokenizer.ts';
import type { ModelOverrides, PipelineOptions } from '../types.ts';
import { DiffusionPipeline } from './diffusion-pipeline.ts';
import { TextConditioner, type TextEncoderUnit } from './text-conditioning.ts';
import { Vae } from './vae.ts';

export interface LoadPipelineOptions extends PipelineOptions {
  /** The model's name in infotexts and results; the folder name by default. */
  readonly name?: string;
  /** Settings that override what the model's files say (default steps, prediction type, …). */
  readonly overrides?: ModelOverrides;
}

/**
 * Loads a diffusers ONNX folder: validates it, creates every session once (UNet first, the
 * largest), and returns a pipeline ready to generate. An unusable folder is refused with an
 * `EngineError` naming the file and the problem.
 */
export async function loadPipeline(
  dir: string,
  options: LoadPipelineOptions = {},
): Promise<DiffusionPipeline> {
  const manifest = applyModelOverrides(await readModelManifest(dir), options.overrides);
  const { files } = manifest;
  const models: OnnxModel[] = [];
  const load = async (file: string, label: string): Promise<OnnxModel> => {
    const model = await OnnxModel.load(file, label, options);
    models.push(model);
    return model;
  };
  try {
    const unet = await load(files.unet, 'unet');
    const encoders = [files.textEncoder, ...(files.textEncoder2 ? [files.textEncoder2] : [])];
    const units: TextEncoderUnit[] = [];
    for (const [index, file] of encoders.entries()) {
      const tokenizerDir = manifest.tokenizerDirs[index] ?? manifest.tokenizerDirs[0] ?? '';
      units.push({
        tokenizer: await ClipTokenizer.load(tokenizerDir),
        model: await load(file, index === 0 ? 'text_encoder' : 'text_encoder_2'),
      });
    }
    const vae = new Vae(
      await load(files.vaeDecoder, 'vae_decoder'),
      files.vaeEncoder ? await load(files.vaeEncoder, 'vae_encoder') : undefined,
      manifest.scalingFactor,
      manifest.shiftFactor,
    );
    const safety =
      files.safetyChecker && manifest.featureExtractor
        ? new SafetyChecker(
            await load(files.safetyChecker, 'safety_checker'),
            manifest.featureExtractor,
          )
        : undefined;
    return new DiffusionPipeline({
      name: options.name ?? path.basename(manifest.dir),
      manifest,
      text: new TextConditioner(manifest.family, units),
      unet,
      vae,
      safety,
      models,
      previewProjection: manifest.previewProjection ?? defaultLatentProjection(manifest.family),
    });
  } catch (error) {
    await Promise.all(models.map((model) => model.dispose()));
    throw error;
  }
}
