/**
 * `fp32`: weights of any stored float type are cast to float32 (ONNX Runtime folds the casts when
 * it loads the session), the only choice that computes exactly on CPU. `fp16`: weights and
 * activations in float16, for GPU execution providers (webgpu, cuda).
 */
export type GraphPrecision = 'fp32' | 'fp16';

/** What every builder returns. */
export interface BuiltGraph {
  /** A serialized ModelProto whose weights are external data rooted at `/`. */
  readonly bytes: Uint8Array;
  /** Graph input and output names, as the engine's pipeline feeds and reads them. */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

/** Options every builder takes. */
export interface GraphOptions {
  /** Default `fp32`. */
  readonly precision?: GraphPrecision;
}
