import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProto_DataType as DataType,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';
import { EngineError } from '../../engine-error.ts';
import { DTYPE_BYTES } from '../dtype-sizes.ts';
import type { TensorDtype, TensorRef } from '../tensor-ref.ts';
import type { GraphPrecision } from './graph-types.ts';

/** A value flowing through the graph, by name. */
export type Value = string;

/** A float attribute; plain numbers are INT attributes so `1` and `1.0` cannot be confused. */
export interface FloatAttribute {
  readonly float: number;
}
export type AttributeValue = number | readonly number[] | string | FloatAttribute;

export const float = (value: number): FloatAttribute => ({ float: value });

/** A declared graph input or output; string dims are symbolic (`batch`, `height`). */
export interface IoSpec {
  readonly name: string;
  readonly type: 'float' | 'int32' | 'int64';
  readonly dims: readonly (number | string)[];
}

/** ONNX element types of the dtypes a weight may be stored in; integer and bool tensors are not weights. */
const WEIGHT_TYPES: Partial<Record<TensorDtype, DataType>> = {
  F64: DataType.DOUBLE,
  F32: DataType.FLOAT,
  F16: DataType.FLOAT16,
  BF16: DataType.BFLOAT16,
  F8_E4M3: DataType.FLOAT8E4M3FN,
  F8_E5M2: DataType.FLOAT8E5M2,
};

/**
 * Which rows of a stored tensor a weight uses and how it is re-declared: a fused QKV split into
 * three is three row ranges of one tensor; a conv `[C, C, 1, 1]` read as a Linear is `shape: [C, C]`.
 * Both are the same bytes, so a view costs nothing.
 */
export interface WeightView {
  /** Rows `[start, end)` of the first dimension. */
  readonly rows?: readonly [number, number];
  /** The shape to declare, same element count as the (row-sliced) tensor. */
  readonly shape?: readonly number[];
}

/**
 * Builds one ONNX model in memory. Weights are external-data initializers pointing at their bytes
 * in the checkpoint (`location` relative to `/`, so the session is created from these bytes with
 * `model_external_initializers_file_folder_path: '/'`). Weights stored in another float type than
 * the graph computes in go through a Cast that ONNX Runtime folds when it loads the session.
 */
export class OnnxGraph {
  readonly precision: GraphPrecision;
  readonly #nodes: NodeProto[] = [];
  readonly #initializers: TensorProto[] = [];
  readonly #inputs: ValueInfoProto[] = [];
  readonly #outputs: ValueInfoProto[] = [];
  readonly #weights = new Map<string, Value>();
  #counter = 0;

  /**
   * The default ONNX opset, 21, is what the Stable Diffusion builders were measured on; the
   * transformer families ask for 23 for its RMSNormalization and RotaryEmbedding kernels.
   */
  readonly opset: number;

  constructor(precision: GraphPrecision, options: { opset?: number } = {}) {
    this.precision = precision;
    this.opset = options.opset ?? 21;
  }

  /** The element type activations and weights are computed in. */
  get floatType(): DataType {
    return this.precision === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
  }

  input(spec: IoSpec): Value {
    this.#inputs.push(valueInfo(spec, this.#ioType(spec.type)));
    return spec.name;
  }

  /** Declares `value` a graph output named `spec.name` (through an Identity when the names differ). */
  output(value: Value, spec: IoSpec): void {
    if (value !== spec.name) this.#nodes.push(makeNode('Identity', [value], [spec.name], {}, ''));
    this.#outputs.push(valueInfo(spec, this.#ioType(spec.type)));
  }

  /** Adds a node; returns its outputs' names. */
  node(
    opType: string,
    inputs: readonly Value[],
    attributes: Record<string, AttributeValue> = {},
    options: { outputs?: number; domain?: string } = {},
  ): Value[] {
    const outputs = Array.from({ length: options.outputs ?? 1 }, () => this.#fresh(opType));
    this.#nodes.push(makeNode(opType, inputs, outputs, attributes, options.domain ?? ''));
    return outputs;
  }

  /** Adds a one-output node. */
  op(
    opType: string,
    inputs: readonly Value[],
    attributes: Record<string, AttributeValue> = {},
  ): Value {
    return this.node(opType, inputs, attributes)[0] as Value;
  }

  /** A com.microsoft contrib node with one output. */
  contrib(
    opType: string,
    inputs: readonly Value[],
    attributes: Record<string, AttributeValue> = {},
  ): Value {
    return this.node(opType, inputs, attributes, { domain: 'com.microsoft' })[0] as Value;
  }

  /** A constant in the graph's float type. */
  floats(values: readonly number[] | Float32Array, dims: readonly number[]): Value {
    if (this.precision === 'fp32') return this.float32s(values, dims);
    const data = Float16Array.from(values);
    return this.#constant(DataType.FLOAT16, dims, new Uint8Array(data.buffer));
  }

  /** A float32 constant whatever the graph's precision (Resize scales). */
  float32s(values: readonly number[] | Float32Array, dims: readonly number[]): Value {
    const data = Float32Array.from(values);
    return this.#constant(DataType.FLOAT, dims, new Uint8Array(data.buffer));
  }

  /** An int64 constant (shapes, axes). */
  ints(values: readonly number[]): Value {
    const data = BigInt64Array.from(values.map((value) => BigInt(value)));
    return this.#constant(DataType.INT64, [values.length], new Uint8Array(data.buffer));
  }

  /** A scalar (0-d) int64 constant (Range bounds, Clip limits, Gather of one index). */
  scalarInt(value: number): Value {
    const data = BigInt64Array.of(BigInt(value));
    return this.#constant(DataType.INT64, [], new Uint8Array(data.buffer));
  }

  /**
   * The weight `ref` (named `name` in errors) as a value of the graph's float type. The same
   * name and view give the same value, so shared weights are declared once.
   */
  weight(name: string, ref: TensorRef, view: WeightView = {}): Value {
    const key = `${name}|${view.rows?.join(':') ?? ''}|${view.shape?.join('x') ?? ''}`;
    const known = this.#weights.get(key);
    if (known) return known;
    const storedType = WEIGHT_TYPES[ref.dtype];
    if (storedType === undefined) {
      throw new EngineError('MODEL_INVALID', `${name}: a ${ref.dtype} tensor cannot be a weight`);
    }
    const elementBytes = DTYPE_BYTES[ref.dtype];
    const [rowStart, rowEnd] = view.rows ?? [0, ref.shape[0] ?? 1];
    const rowBytes = ref.shape.slice(1).reduce((product, dim) => product * dim, 1) * elementBytes;
    const dims = view.shape ?? [rowEnd - rowStart, ...ref.shape.slice(1)];
    const length = (rowEnd - rowStart) * rowBytes;
    if (dims.reduce((product, dim) => product * dim, 1) * elementBytes !== length) {
      throw new EngineError(
        'MODEL_INVALID',
        `${name}: shape [${ref.shape.join(', ')}] cannot be viewed as [${dims.join(', ')}]`,
      );
    }
    const stored = this.#fresh(name.replace(/\W/g, '_'));
    this.#initializers.push(
      create(TensorProtoSchema, {
        name: stored,
        dims: dims.map(BigInt),
        dataType: storedType,
        dataLocation: TensorProto_DataLocation.EXTERNAL,
        externalData: [
          entry('location', ref.file.replace(/^\/+/, '')),
          entry('offset', String(ref.offset + rowStart * rowBytes)),
          entry('length', String(length)),
        ],
      }),
    );
    const value =
      storedType === this.floatType ? stored : this.op('Cast', [stored], { to: this.floatType });
    this.#weights.set(key, value);
    return value;
  }

  /** The serialized ModelProto (the graph's opset plus com.microsoft 1). */
  toBytes(producer: string): Uint8Array {
    const model = create(ModelProtoSchema, {
      irVersion: 10n,
      producerName: producer,
      opsetImport: [
        create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(this.opset) }),
        create(OperatorSetIdProtoSchema, { domain: 'com.microsoft', version: 1n }),
      ],
      graph: create(GraphProtoSchema, {
        name: producer,
        node: this.#nodes,
        initializer: this.#initializers,
        input: this.#inputs,
        output: this.#outputs,
      }),
    });
    return toBinary(ModelProtoSchema, model);
  }

  #constant(dataType: DataType, dims: readonly number[], rawData: Uint8Array<ArrayBuffer>): Value {
    const name = this.#fresh('const');
    this.#initializers.push(
      create(TensorProtoSchema, { name, dims: dims.map(BigInt), dataType, rawData }),
    );
    return name;
  }

  #ioType(type: IoSpec['type']): DataType {
    if (type === 'int32') return DataType.INT32;
    if (type === 'int64') return DataType.INT64;
    return this.floatType;
  }

  #fresh(hint: string): Value {
    return `${hint}_${this.#counter++}`;
  }
}

function entry(
  key: string,
  value: string,
): ReturnType<typeof create<typeof StringStringEntryProtoSchema>> {
  return create(StringStringEntryProtoSchema, { key, value });
}

function makeNode(
  opType: string,
  inputs: readonly Value[],
  outputs: readonly Value[],
  attributes: Record<string, AttributeValue>,
  domain: string,
): NodeProto {
  return create(NodeProtoSchema, {
    opType,
    domain,
    name: outputs[0] ?? opType,
    input: [...inputs],
    output: [...outputs],
    attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
  });
}

function attribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'string') {
    return create(AttributeProtoSchema, {
      name,
      type: AttributeType.STRING,
      s: new TextEncoder().encode(value),
    });
  }
  if (typeof value === 'number') {
    return create(AttributeProtoSchema, { name, type: AttributeType.INT, i: BigInt(value) });
  }
  if ('float' in value) {
    return create(AttributeProtoSchema, { name, type: AttributeType.FLOAT, f: value.float });
  }
  return create(AttributeProtoSchema, {
    name,
    type: AttributeType.INTS,
    ints: value.map((item) => BigInt(item)),
  });
}

function valueInfo(spec: IoSpec, elemType: DataType): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name: spec.name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType,
          shape: create(TensorShapeProtoSchema, {
            dim: spec.dims.map((dim) =>
              create(TensorShapeProto_DimensionSchema, {
                value:
                  typeof dim === 'number'
                    ? { case: 'dimValue', value: BigInt(dim) }
                    : { case: 'dimParam', value: dim },
              }),
            ),
          }),
        }),
      },
    }),
  });
}
