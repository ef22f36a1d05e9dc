import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ComponentFiles } from '../../src/engine/types.ts';
import { CHECKPOINTS } from './checkpoint-graphs.ts';
import { writeSafetensors } from './safetensors-files.ts';
import { tensorsUnder } from './sd3-folder.ts';

/** A transformer-only file and its component files, as ComfyUI's model folders hold them. */
export interface SplitModel {
  readonly transformer: string;
  readonly components: ComponentFiles;
}

/** Writes the tensors of `source` under `prefix` (removed) to `file`. */
async function part(source: string, prefix: string, file: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeSafetensors(file, await tensorsUnder(source, prefix));
  return file;
}

/**
 * The tiny SD 3.5 Large "incl_clips" fixture split into ComfyUI's folders: the MMDiT as the
 * release ships it (under `model.diffusion_model.`), CLIP-L and CLIP-G in Hugging Face names,
 * the VAE in bare LDM names. The committed fixture holds the bytes once; the split is made here.
 */
export async function splitTinySd35Large(root: string): Promise<SplitModel> {
  const source = path.join(CHECKPOINTS, 'tiny-sd35-large.safetensors');
  const transformer = await part(
    source,
    'model.diffusion_model.',
    path.join(root, 'diffusion_models', 'sd3.5_large.safetensors'),
  );
  // Put the prefix back: SD 3.5's released files keep it.
  await writeSafetensors(
    transformer,
    (await tensorsUnder(source, 'model.diffusion_model.')).map((tensor) => ({
      ...tensor,
      name: `model.diffusion_model.${tensor.name}`,
    })),
  );
  return {
    transformer,
    components: {
      clipL: await part(
        source,
        'text_encoders.clip_l.transformer.',
        path.join(root, 'text_encoders', 'clip_l.safetensors'),
      ),
      clipG: await part(
        source,
        'text_encoders.clip_g.transformer.',
        path.join(root, 'text_encoders', 'clip_g.safetensors'),
      ),
      vae: await part(source, 'first_stage_model.', path.join(root, 'vae', 'sd3_vae.safetensors')),
    },
  };
}

/**
 * The tiny FLUX.1-dev all-in-one fixture split the way Black Forest Labs and ComfyUI publish
 * FLUX: `flux1-dev.safetensors` (the bare BFL transformer), `clip_l` and `t5xxl` in Hugging Face
 * names, and `ae.safetensors`.
 */
export async function splitTinyFluxDev(root: string): Promise<SplitModel> {
  const source = path.join(CHECKPOINTS, 'tiny-flux-dev.safetensors');
  return {
    transformer: await part(
      source,
      'model.diffusion_model.',
      path.join(root, 'diffusion_models', 'flux1-dev.safetensors'),
    ),
    components: {
      clipL: await part(
        source,
        'text_encoders.clip_l.transformer.',
        path.join(root, 'text_encoders', 'clip_l.safetensors'),
      ),
      t5: await part(
        source,
        'text_encoders.t5xxl.transformer.',
        path.join(root, 'text_encoders', 't5xxl.safetensors'),
      ),
      vae: await part(source, 'vae.', path.join(root, 'vae', 'ae.safetensors')),
    },
  };
}

/**
 * `file` rewritten to `out` with its token embedding (`name`) grown to `rows` rows, each new row
 * a copy of row `i mod` the old count: a tiny encoder that takes every id of a real tokenizer
 * (T5-XXL's 32,100, Qwen3's 151,669), so a model can run on the tokenizer Pictor bundles.
 */
export async function widenEmbedding(
  file: string,
  name: string,
  rows: number,
  out: string,
): Promise<string> {
  const tensors = await tensorsUnder(file, '');
  const widened = tensors.map((tensor) => {
    if (tensor.name !== name) return tensor;
    const [count, width] = tensor.shape as [number, number];
    const rowBytes = (tensor.data?.length ?? 0) / count;
    const data = new Uint8Array(rows * rowBytes);
    for (let row = 0; row < rows; row++) {
      const from = (row % count) * rowBytes;
      data.set(tensor.data!.subarray(from, from + rowBytes), row * rowBytes);
    }
    return { ...tensor, shape: [rows, width], data };
  });
  assert.ok(
    widened.some((tensor) => tensor.name === name && tensor.shape[0] === rows),
    name,
  );
  await mkdir(path.dirname(out), { recursive: true });
  await writeSafetensors(out, widened);
  return out;
}
