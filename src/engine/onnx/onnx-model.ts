import { existsSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { EngineError } from '../engine-error.ts';
import type { ExecutionProvider, PipelineOptions } from '../types.ts';
import { float32ToHalf, halfToFloat32 } from './float16.ts';

/** A tensor on the host, as the pipeline hands it to a model: dtype adapts at the boundary. */
export interface HostTensor {
  readonly data: Float32Array | Int32Array | readonly number[];
  readonly dims: readonly number[];
  /**
   * The caller promises never to change this tensor: its converted form is then kept and reused
   * (the text conditioning fed to every UNet step of an fp16 model).
   */
  readonly constant?: boolean;
}

/** A declared input or output of a session. */
export interface TensorSpec {
  readonly name: string;
  readonly type: string;
  readonly shape: readonly (number | string)[];
}

/** Outputs of a run, every floating tensor converted to float32. */
export type RunOutputs = Record<
  string,
  { data: Float32Array | Int32Array | Uint8Array; dims: readonly number[] }
>;

type OrtTensor = ort.Tensor;

/**
 * One ONNX Runtime session. A pipeline creates it when its component is first needed and keeps
 * it, except in low-memory mode, which releases it after each use (`component-session.ts`;
 * `npm run bench:memory` shows what a released session gives back). Converts inputs to the dtypes the graph declares (int32/int64 ids,
 * float16/float32 tensors) and outputs back to float32, so the pipeline only ever sees float32.
 */
export class OnnxModel {
  readonly label: string;
  readonly inputs: ReadonlyMap<string, TensorSpec>;
  readonly outputs: ReadonlyMap<string, TensorSpec>;
  readonly #session: ort.InferenceSession;
  readonly #converted = new WeakMap<HostTensor, OrtTensor>();
  /** Milliseconds spent inside `session.run`, for the benchmarks. */
  runTimeMs = 0;

  private constructor(label: string, session: ort.InferenceSession) {
    this.label = label;
    this.#session = session;
    this.inputs = specsByName(session.inputMetadata);
    this.outputs = specsByName(session.outputMetadata);
  }

  /** Creates the session for `file`; external weight files next to it are found by ONNX Runtime. */
  static async load(file: string, label: string, options: PipelineOptions): Promise<OnnxModel> {
    if (!existsSync(file)) throw new EngineError('MODEL_INVALID', `${label}: missing ${file}`);
    return OnnxModel.#create(label, file, options, () =>
      ort.InferenceSession.create(file, buildSessionOptions(options)),
    );
  }

  /**
   * Creates the session from a serialized ModelProto built in memory (a compiled checkpoint)
   * whose external-data locations are relative to `externalDataRoot` (`/` for absolute paths).
   * `source` names the model in errors.
   */
  static async fromBytes(
    bytes: Uint8Array,
    label: string,
    options: PipelineOptions & {
      readonly source: string;
      readonly externalDataRoot?: string;
      /** Also write ORT's optimized model there, its initializers in `dataFileName` beside it. */
      readonly saveOptimized?: { readonly modelFile: string; readonly dataFileName: string };
    },
  ): Promise<OnnxModel> {
    return OnnxModel.#create(label, options.source, options, () => {
      const sessionOptions = buildSessionOptions(options);
      const save = options.saveOptimized;
      return ort.InferenceSession.create(bytes, {
        ...sessionOptions,
        ...(save ? { optimizedModelFilePath: save.modelFile } : {}),
        extra: {
          ...sessionOptions.extra,
          session: {
            ...(sessionOptions.extra as { session?: Record<string, unknown> } | undefined)?.session,
            model_external_initializers_file_folder_path: options.externalDataRoot ?? '/',
            ...(save
              ? {
                  optimized_model_external_initializers_file_name: save.dataFileName,
                  optimized_model_external_initializers_min_size_in_bytes: '1024',
                }
              : {}),
          },
        },
      });
    });
  }

  /** Creates the session for a model ORT already optimized (its own saved output): no optimizing. */
  static async fromOptimized(
    file: string,
    label: string,
    options: PipelineOptions & { readonly source: string },
  ): Promise<OnnxModel> {
    return OnnxModel.#create(label, options.source, options, () =>
      ort.InferenceSession.create(file, {
        ...buildSessionOptions(options),
        graphOptimizationLevel: 'disabled',
      }),
    );
  }

  static async #create(
    label: string,
    source: string,
    options: PipelineOptions,
    create: () => Promise<ort.InferenceSession>,
  ): Promise<OnnxModel> {
    try {
      return new OnnxModel(label, await create());
    } catch (error) {
      if (error instanceof EngineError) throw error;
      const provider = options.executionProvider ?? 'cpu';
      const message = error instanceof Error ? error.message : String(error);
      if (provider !== 'cpu' && /provider|library|backend/i.test(message)) {
        throw new EngineError(
          'PROVIDER_UNAVAILABLE',
          `execution provider '${provider}' failed to start: ${message}`,
          { cause: error },
        );
      }
      throw new EngineError('MODEL_INVALID', `${label}: cannot load ${source}: ${message}`, {
        cause: error,
      });
    }
  }

  /** The declared input, or throws naming the model and input. */
  input(name: string): TensorSpec {
    const spec = this.inputs.get(name);
    if (!spec) throw new EngineError('MODEL_INVALID', `${this.label} has no input '${name}'`);
    return spec;
  }

  hasInput(name: string): boolean {
    return this.inputs.has(name);
  }

  async run(feeds: Record<string, HostTensor>): Promise<RunOutputs> {
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) {
      let converted = tensor.constant ? this.#converted.get(tensor) : undefined;
      if (!converted) {
        converted = toOrtTensor(this.input(name), tensor);
        if (tensor.constant) this.#converted.set(tensor, converted);
      }
      ortFeeds[name] = converted;
    }
    const started = performance.now();
    const results = await this.#session.run(ortFeeds);
    this.runTimeMs += performance.now() - started;
    const outputs: RunOutputs = {};
    for (const [name, tensor] of Object.entries(results)) {
      outputs[name] = { data: fromOrtTensor(tensor), dims: tensor.dims };
    }
    return outputs;
  }

  async dispose(): Promise<void> {
    await this.#session.release();
  }
}

function specsByName(
  metadata: readonly ort.InferenceSession.ValueMetadata[],
): Map<string, TensorSpec> {
  const specs = new Map<string, TensorSpec>();
  for (const item of metadata) {
    const tensor = item.isTensor ? item : undefined;
    specs.set(item.name, {
      name: item.name,
      type: tensor?.type ?? 'unknown',
      shape: tensor?.shape ?? [],
    });
  }
  return specs;
}

function buildSessionOptions(options: PipelineOptions): ort.InferenceSession.SessionOptions {
  const provider = options.executionProvider ?? 'cpu';
  assertProviderAvailable(provider);
  const providerEntry =
    provider === 'cuda' || provider === 'dml'
      ? { name: provider, deviceId: options.deviceId ?? 0 }
      : provider;
  return {
    executionProviders: [providerEntry],
    graphOptimizationLevel: 'all',
    // Shapes change with every request size; a memory pattern planned for one size is wasted.
    enableMemPattern: false,
    ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    ...(options.interOpThreads ? { interOpNumThreads: options.interOpThreads } : {}),
    ...(options.spinWait === false
      ? {
          extra: {
            session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } },
          },
        }
      : {}),
  };
}

/**
 * Refuses a provider the runtime was not built with, before any session tries it: at load, since
 * sessions are created only when first needed.
 */
export function assertProviderAvailable(provider: ExecutionProvider): void {
  if (provider === 'cpu') return;
  const available: string[] = ort.listSupportedBackends().map((backend) => backend.name);
  if (!available.includes(provider)) {
    throw new EngineError(
      'PROVIDER_UNAVAILABLE',
      `execution provider '${provider}' is not available in this ONNX Runtime build (available: ${available.join(', ')})`,
    );
  }
}

function toOrtTensor(spec: TensorSpec, tensor: HostTensor): OrtTensor {
  const dims = [...tensor.dims];
  const values = tensor.data;
  switch (spec.type) {
    case 'float32':
      return new ort.Tensor('float32', asFloat32(values), dims);
    case 'float16':
      return halfTensor(float32ToHalf(asFloat32(values)), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(values, Math.round), dims);
    case 'int64':
      return new ort.Tensor(
        'int64',
        BigInt64Array.from(values, (v) => BigInt(Math.round(v))),
        dims,
      );
    case 'double':
      return new ort.Tensor('float64', Float64Array.from(values), dims);
    default:
      throw new EngineError(
        'MODEL_INVALID',
        `input '${spec.name}' has unsupported type '${spec.type}'`,
      );
  }
}

function asFloat32(values: HostTensor['data']): Float32Array {
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/**
 * Where the runtime has Float16Array (Node 24), onnxruntime-common re-wraps a Uint16Array as a
 * Float16Array view, which the native binding then reads as zero bytes ("not enough space").
 * Handing the binding the original Uint16Array keeps fp16 models working on every Node version.
 */
export function halfTensor(bits: Uint16Array, dims: number[]): OrtTensor {
  const tensor = new ort.Tensor('float16', bits, dims);
  (tensor as unknown as { cpuData: Uint16Array }).cpuData = bits;
  return tensor;
}

function fromOrtTensor(tensor: OrtTensor): Float32Array | Int32Array | Uint8Array {
  const data = tensor.data;
  switch (tensor.type) {
    case 'float32':
      return data as Float32Array;
    case 'float16': {
      const view = data as unknown as ArrayBufferView;
      return halfToFloat32(new Uint16Array(view.buffer, view.byteOffset, tensor.size));
    }
    case 'bool':
    case 'uint8':
      return data as Uint8Array;
    case 'int32':
      return data as Int32Array;
    case 'int64':
      return Int32Array.from(data as BigInt64Array, Number);
    case 'float64':
      return Float32Array.from(data as Float64Array);
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'uint32':
    case 'uint64':
    case 'int4':
    case 'uint4':
    case 'string':
      throw new EngineError('MODEL_INVALID', `output type '${tensor.type}' is not supported`);
  }
}
