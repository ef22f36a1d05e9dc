import {
  TensorProto_DataType as DataType,
  type GraphProto,
  type NodeProto,
  type TensorProto,
} from 'onnx-buf';

/** Float element types a quantizable weight may be stored in. */
export const QUANTIZABLE_TYPES: ReadonlySet<DataType> = new Set([
  DataType.FLOAT,
  DataType.FLOAT16,
  DataType.BFLOAT16,
]);

/**
 * A MatMul whose B is a constant 2-D weight, possibly through a Cast (a weight stored in another
 * float type) and a Transpose (torch `nn.Linear` stores `[out, in]`; MatMul wants `[in, out]`).
 */
export interface LinearWeight {
  readonly matMul: NodeProto;
  readonly weight: TensorProto;
  /** Output features (MatMul's N) and input features (K). */
  readonly n: number;
  readonly k: number;
  /** The stored tensor is `[K, N]` (MatMul's own B), not `[N, K]` as MatMulNBits wants it. */
  readonly storedAsKByN: boolean;
  /** The float type MatMul computes in: what the scales must be. */
  readonly computeType: DataType;
}

/**
 * Every MatMul of `graph` over a constant 2-D float weight. The walk from B back to the weight
 * accepts only a Cast to a float type and a 2-D Transpose, in either order: anything else
 * (a Reshape, a weight computed from inputs) is left as it is.
 */
export function findLinearWeights(graph: GraphProto): LinearWeight[] {
  const initializers = new Map(graph.initializer.map((tensor) => [tensor.name, tensor]));
  const producers = new Map<string, NodeProto>();
  for (const node of graph.node) for (const output of node.output) producers.set(output, node);
  const found: LinearWeight[] = [];
  for (const node of graph.node) {
    if (node.opType !== 'MatMul' || node.domain !== '') continue;
    const b = node.input[1];
    if (b === undefined) continue;
    const traced = traceWeight(b, producers, initializers);
    if (traced) found.push({ matMul: node, ...traced });
  }
  return found;
}

function traceWeight(
  value: string,
  producers: ReadonlyMap<string, NodeProto>,
  initializers: ReadonlyMap<string, TensorProto>,
): Omit<LinearWeight, 'matMul'> | undefined {
  let transposed = false;
  let computeType: DataType | undefined;
  let current = value;
  for (let hops = 0; hops < 3; hops++) {
    const weight = initializers.get(current);
    if (weight) {
      if (weight.dims.length !== 2 || !QUANTIZABLE_TYPES.has(weight.dataType)) return undefined;
      const [rows, cols] = weight.dims.map(Number) as [number, number];
      return {
        weight,
        n: transposed ? rows : cols,
        k: transposed ? cols : rows,
        storedAsKByN: !transposed,
        computeType: computeType ?? weight.dataType,
      };
    }
    const producer = producers.get(current);
    if (!producer || producer.domain !== '') return undefined;
    if (producer.opType === 'Transpose' && !transposed && isSwap(producer)) transposed = true;
    else if (producer.opType === 'Cast' && computeType === undefined) {
      computeType = castTarget(producer);
      if (computeType !== DataType.FLOAT && computeType !== DataType.FLOAT16) return undefined;
    } else return undefined;
    current = producer.input[0] ?? '';
  }
  return undefined;
}

function isSwap(node: NodeProto): boolean {
  const perm = node.attribute.find((a) => a.name === 'perm')?.ints.map(Number);
  return perm !== undefined && perm.length === 2 && perm[0] === 1 && perm[1] === 0;
}

function castTarget(node: NodeProto): DataType | undefined {
  const to = node.attribute.find((a) => a.name === 'to');
  return to === undefined ? undefined : Number(to.i);
}
