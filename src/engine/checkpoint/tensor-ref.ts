/**
 * The seam between reading checkpoint files and building ONNX graphs over them.
 *
 * Readers (`.safetensors` headers, diffusers folders, shards) produce a {@link TensorIndex} per
 * component, in that component's original layout (LDM/SGM names for UNets and VAEs, Hugging Face
 * `text_model.*` names for CLIP-L, OpenCLIP names for OpenCLIP-H/bigG) with the component's prefix
 * removed. A name map is a new index whose entries point at the same bytes, so renames and
 * contiguous sub-ranges (a fused QKV split into three) cost nothing.
 *
 * Graph builders read only this index: every weight becomes an ONNX external-data initializer
 * pointing at `file` from `offset` for `length` bytes, so no weight is copied on disk.
 */

/** Element types a `.safetensors` header may name. */
export type TensorDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'F8_E4M3'
  | 'F8_E5M2'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U8'
  | 'BOOL';

/** Where one tensor's bytes live. */
export interface TensorRef {
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  /** Absolute path of the file holding the bytes (row-major, little-endian). */
  readonly file: string;
  /** Absolute byte offset of the tensor's first byte within `file`. */
  readonly offset: number;
  /** Byte length: the product of `shape` times the dtype's size. */
  readonly length: number;
}

/** One component's tensors, by name in its original layout, prefix removed. */
export type TensorIndex = ReadonlyMap<string, TensorRef>;
