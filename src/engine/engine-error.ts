/**
 * Why the engine refused or failed. The server maps each code to its own error catalog, so a
 * code is part of the public contract: add codes, never rename them.
 */
export type EngineErrorCode =
  /** The model folder is missing a file or a file is malformed. */
  | 'MODEL_INVALID'
  /** The folder is a pipeline the engine does not run (SD3, FLUX, …). */
  | 'MODEL_UNSUPPORTED'
  /** The model needs more memory than the budget allows at its quantization. */
  | 'MODEL_TOO_LARGE'
  /** The requested execution provider is not available in this runtime. */
  | 'PROVIDER_UNAVAILABLE'
  /** A request parameter is out of range; `field` names it. */
  | 'INVALID_REQUEST'
  /** The input image or mask could not be decoded. */
  | 'INVALID_IMAGE'
  /** The pipeline was disposed. */
  | 'PIPELINE_DISPOSED';

export class EngineError extends Error {
  readonly code: EngineErrorCode;
  /** The request field at fault, for `INVALID_REQUEST` / `INVALID_IMAGE`. */
  readonly field: string | undefined;

  constructor(
    code: EngineErrorCode,
    message: string,
    options?: { field?: string; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EngineError';
    this.code = code;
    this.field = options?.field;
  }
}
