import path from 'node:path';

// The same relative path works from `src/engine/text/` and `dist/engine/text/`.
const MODELS_DIR = path.join(import.meta.dirname, '..', '..', '..', 'models');

/**
 * The CLIP tokenizer Pictor ships (`models/clip-tokenizer/`, merges only) for checkpoints, which
 * carry none.
 */
export const BUNDLED_CLIP_TOKENIZER_DIR = path.join(MODELS_DIR, 'clip-tokenizer');

/**
 * T5-XXL's `tokenizer.json` (gzipped; google/t5-v1_1-xxl's, the one FLUX.1 and SD 3.x ship),
 * for T5 encoder files that come without their tokenizer, as ComfyUI's `text_encoders/` do.
 */
export const BUNDLED_T5_TOKENIZER_DIR = path.join(MODELS_DIR, 't5-tokenizer');

/** Qwen3's `tokenizer.json` (gzipped; Z-Image-Turbo's own), for a bare Qwen3 encoder file. */
export const BUNDLED_QWEN3_TOKENIZER_DIR = path.join(MODELS_DIR, 'qwen3-tokenizer');

/** SD 2.x and SDXL's OpenCLIP encoder pad with `!` (id 0); OpenAI CLIP-L with `<|endoftext|>`. */
export const OPENCLIP_PAD_TOKEN = '!';
