import type { CheckpointLayout, TextEncoderKind } from './checkpoint-layout.ts';
import type { CheckpointComponents } from './checkpoint-components.ts';
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
  /** Tokenizer folders the checkpoint carries (a diffusers folder's `tokenizer_2/` for T5). */
  readonly tokenizerDirs?: Partial<Readonly<Record<TextEncoderKind, string>>>;
}
