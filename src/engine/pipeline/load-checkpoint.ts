import path from 'node:path';
import type { CheckpointSource } from '../checkpoint/checkpoint-source.ts';
import { assertFileUnchanged } from '../checkpoint/file-identity.ts';
import {
  buildVaeDecoder,
  buildVaeEncoder,
  type BuiltGraph,
  type GraphPrecision,
} from '../checkpoint/graphs/index.ts';
import { EngineError } from '../engine-error.ts';
import { FAMILIES } from '../families/families.ts';
import { applyModelOverrides } from '../model/apply-model-overrides.ts';
import { checkpointManifest } from '../model/checkpoint-manifest.ts';
import { OnnxModel } from '../onnx/onnx-model.ts';
import type { ModelOverrides, PipelineOptions } from '../types.ts';
import type { CheckpointGraphSettings } from './checkpoint-graph-settings.ts';
import { checkpointTextEncoder } from './checkpoint-text-encoders.ts';
import { DENOISER_GRAPHS } from './denoiser-graphs.ts';
import { DiffusionPipeline } from './diffusion-pipeline.ts';
import { TextConditioner, type TextEncoderUnit } from './text-conditioning.ts';
import { Vae } from './vae.ts';

export interface CheckpointLoadOptions extends PipelineOptions {
  readonly name?: string;
  readonly overrides?: ModelOverrides;
  readonly checkpoint?: CheckpointGraphSettings;
}

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
  const settings = options.checkpoint ?? {};
  const precision: GraphPrecision =
    (options.executionProvider ?? 'cpu') === 'cpu' ? 'fp32' : 'fp16';
  const { components } = source;
  const models: OnnxModel[] = [];
  const create = async (label: string, build: () => BuiltGraph): Promise<OnnxModel> => {
    for (const [file, identity] of source.files) await assertFileUnchanged(file, identity);
    const model = await OnnxModel.fromBytes(build().bytes, label, { ...options, source: location });
    models.push(model);
    return model;
  };
  try {
    const unet = await create('unet', () =>
      DENOISER_GRAPHS[source.layout.family](components.unet, settings, precision),
    );
    const units: TextEncoderUnit[] = [];
    for (const [index, encoder] of components.textEncoders.entries()) {
      if (encoder.kind === 't5-xxl' && options.overrides?.t5 === false) continue;
      const label = index === 0 ? 'text_encoder' : `text_encoder_${index + 1}`;
      units.push(
        await checkpointTextEncoder(encoder, index, settings, {
          location,
          precision,
          create,
          label,
        }),
      );
    }
    const join = family.combineText;
    const tokenWidth = unet.input('encoder_hidden_states').shape[2];
    const text = new TextConditioner(
      family.selectEncoderOutputs,
      units,
      join && typeof tokenWidth === 'number'
        ? (parts, count) => join(parts, count, { tokenWidth })
        : undefined,
    );
    const vaeIndex = components.vae;
    if (!vaeIndex) throw new EngineError('MODEL_UNSUPPORTED', `${location} carries no VAE`);
    const vae = new Vae(
      await create('vae_decoder', () => buildVaeDecoder(vaeIndex, { precision })),
      await create('vae_encoder', () => buildVaeEncoder(vaeIndex, { precision })),
      manifest.scalingFactor,
      manifest.shiftFactor,
    );
    return new DiffusionPipeline({
      name: options.name ?? path.basename(location).replace(/\.safetensors$/i, ''),
      manifest,
      text,
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
