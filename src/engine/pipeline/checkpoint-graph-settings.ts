import type { UnetHeads } from '../checkpoint/graphs/index.ts';

/**
 * What a checkpoint's weights cannot say, for architectures other than the released ones (the
 * real models' values are the defaults): head widths, the SDXL size embedding, the tokenizers.
 */
export interface CheckpointGraphSettings {
  /** A tokenizer folder (`merges.txt`, optional `vocab.json`); the bundled CLIP one by default. */
  readonly tokenizerDir?: string;
  /**
   * A folder with T5's `tokenizer.json` (a diffusers `tokenizer_3/`), for a single file that
   * carries T5-XXL: `.safetensors` files hold no tokenizer.
   */
  readonly t5TokenizerDir?: string;
  /** Attention head width of each CLIP text encoder, in order; 64 in every released encoder. */
  readonly textHeadDims?: readonly number[];
  /** UNet attention heads; 8 heads for SD 1.x, 64-wide heads otherwise. */
  readonly unetHeads?: UnetHeads;
  /** SDXL: width of each size/crop embedding in `time_ids`; 256. */
  readonly timeIdWidth?: number;
}
