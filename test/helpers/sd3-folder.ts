import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import { BUNDLED_CLIP_TOKENIZER_DIR } from '../../src/engine/text/bundled-tokenizers.ts';
import { CHECKPOINTS } from './checkpoint-graphs.ts';
import { writeSafetensors, type TensorSpec } from './safetensors-files.ts';

/** The tiny SD 3.5 Large single file: CLIP-L, CLIP-G and the 16-channel VAE come from it. */
export const TINY_SD35_LARGE = path.join(CHECKPOINTS, 'tiny-sd35-large.safetensors');

/** The tensors of `file` under `prefix` (prefix removed), with their bytes, to write elsewhere. */
export async function tensorsUnder(file: string, prefix: string): Promise<TensorSpec[]> {
  const { index } = await readSafetensors(file);
  const bytes = await readFile(file);
  return [...index]
    .filter(([name]) => name.startsWith(prefix))
    .map(([name, ref]) => ({
      name: name.slice(prefix.length),
      dtype: ref.dtype,
      shape: ref.shape,
      data: bytes.subarray(ref.offset, ref.offset + ref.length),
    }));
}

/**
 * The tiny CLIP tokenizer the SD3 fixtures' 1024-token encoders were made for: the first 510
 * merges of the bundled CLIP tokenizer (512 byte symbols + 510 merges + 2 specials).
 */
export async function writeTinyClipTokenizer(dir: string): Promise<void> {
  const merges = (await readFile(path.join(BUNDLED_CLIP_TOKENIZER_DIR, 'merges.txt'), 'utf8'))
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'));
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'merges.txt'), merges.slice(0, 510).join('\n') + '\n');
}

/**
 * A complete diffusers SD 3.5 Medium folder at `folder`, built from the tiny fixtures (the
 * committed files hold each part once): the Medium MMDiT (dual attention in block 0) in
 * diffusers names, the Large fixture's CLIP-L and CLIP-G with their configs (head widths 8 and
 * 16) and tokenizers, its VAE, no T5 (`text_encoder_3: null`), flow-matching Euler at shift 3.
 */
export async function writeTinySd35MediumFolder(folder: string): Promise<string> {
  for (const part of ['transformer', 'text_encoder', 'text_encoder_2', 'scheduler', 'vae']) {
    await mkdir(path.join(folder, part), { recursive: true });
  }
  await writeFile(
    path.join(folder, 'model_index.json'),
    JSON.stringify({ _class_name: 'StableDiffusion3Pipeline', text_encoder_3: [null, null] }),
  );
  await writeFile(
    path.join(folder, 'scheduler', 'scheduler_config.json'),
    JSON.stringify({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3.0 }),
  );
  await copyFile(
    path.join(CHECKPOINTS, 'tiny-sd35-medium-diffusers.transformer.safetensors'),
    path.join(folder, 'transformer', 'diffusion_pytorch_model.safetensors'),
  );
  for (const [part, prefix, width] of [
    ['text_encoder', 'text_encoders.clip_l.transformer.', 32],
    ['text_encoder_2', 'text_encoders.clip_g.transformer.', 64],
  ] as const) {
    await writeSafetensors(
      path.join(folder, part, 'model.safetensors'),
      await tensorsUnder(TINY_SD35_LARGE, prefix),
    );
    await writeFile(
      path.join(folder, part, 'config.json'),
      JSON.stringify({ hidden_size: width, num_attention_heads: 4, vocab_size: 1024 }),
    );
    await writeTinyClipTokenizer(path.join(folder, part.replace('text_encoder', 'tokenizer')));
  }
  await writeSafetensors(
    path.join(folder, 'vae', 'diffusion_pytorch_model.safetensors'),
    await tensorsUnder(TINY_SD35_LARGE, 'first_stage_model.'),
  );
  return folder;
}
