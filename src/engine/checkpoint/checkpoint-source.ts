import type { CheckpointLayout, TextEncoderKind } from './checkpoint-layout.ts';
import type { CheckpointComponents } from './checkpoint-components.ts';
import type { RotaryAxes } from '../flow/rotary-positions.ts';
import type { FileIdentity } from './file-identity.ts';

/**
 * A checkpoint read and understood, whatever its on-disk form (single file, diffusers folder):
 * what it is, each component's index in original names, and the files those point into.
 */
export interface CheckpointSource {
  readonly layout: CheckpointLayout;
  readonly components: CheckpointComponents;
  /** Checked again (size and mtime) before each session over them is created. */
  readonly files: ReadonlyMap<string, FileIdentity>;
  /** Tokenizer folders the checkpoint carries (a diffusers folder's `tokenizer_N/`: CLIP merges, T5, Qwen3). */
  readonly tokenizerDirs?: Partial<Readonly<Record<TextEncoderKind, string>>>;
  /** What a diffusers folder's `config.json` files say that the weights cannot. */
  readonly architecture?: CheckpointArchitecture;
}

/** Architecture facts beyond tensor shapes, from a diffusers folder's configs. */
export interface CheckpointArchitecture {
  /** Attention head width of each text encoder, in order (`hidden_size / num_attention_heads`). */
  readonly textHeadDims?: readonly number[];
  /** FLUX, Z-Image: the transformer's rotary axes (`axes_dims_rope`; `axes_dims`, `rope_theta`). */
  readonly rotaryAxes?: RotaryAxes;
  /** The VAE's GroupNorm groups (`vae/config.json` `norm_num_groups`; absent: 32). */
  readonly vaeNormGroups?: number;
}
