import path from 'node:path';

/**
 * The CLIP tokenizer Pictor ships (`models/clip-tokenizer/`, merges only) for checkpoints, which
 * carry none. The same relative path works from `src/engine/text/` and `dist/engine/text/`.
 */
export const BUNDLED_CLIP_TOKENIZER_DIR = path.join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'models',
  'clip-tokenizer',
);

/** SD 2.x and SDXL's OpenCLIP encoder pad with `!` (id 0); OpenAI CLIP-L with `<|endoftext|>`. */
export const OPENCLIP_PAD_TOKEN = '!';
