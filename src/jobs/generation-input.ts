import type { OutputFormat } from './output-format.ts';

/** A generation request as the API received it (already type-checked), before defaults. */
export interface GenerationInput {
  readonly prompt: string;
  readonly negativePrompt?: string | undefined;
  readonly model?: string | undefined;
  readonly width?: number | undefined;
  readonly height?: number | undefined;
  readonly steps?: number | undefined;
  readonly guidanceScale?: number | undefined;
  readonly scheduler?: string | undefined;
  readonly seed?: number | undefined;
  readonly n?: number | undefined;
  readonly outputFormat?: OutputFormat | undefined;
  readonly quality?: number | undefined;
  /** Upload id, base64 or data URI. */
  readonly initImage?: string | undefined;
  readonly mask?: string | undefined;
  readonly strength?: number | undefined;
  readonly safetyFilter?: boolean | undefined;
  readonly webhookUrl?: string | undefined;
  readonly priority?: number | undefined;
  readonly preview?: boolean | undefined;
  readonly skipLayerGuidance?: SkipLayerGuidanceParams | undefined;
}

/**
 * SD 3.x skip-layer guidance as diffusers' StableDiffusion3Pipeline takes it: the MMDiT blocks
 * skipped in an extra pass, its scale, and the fractions of the steps it runs between.
 */
export interface SkipLayerGuidanceParams {
  readonly layers: readonly number[];
  readonly scale?: number | undefined;
  readonly start?: number | undefined;
  readonly stop?: number | undefined;
}
