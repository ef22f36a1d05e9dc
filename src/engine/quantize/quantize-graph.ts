import { createHash } from 'node:crypto';
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AttributeType,
  AttributeProtoSchema,
  ModelProtoSchema,
  OperatorSetIdProtoSchema,
  TensorProto_DataType as DataType,
} from 'onnx-buf';
import { fileIdentity } from '../checkpoint/file-identity.ts';
import { float32ToHalf } from '../onnx/float16.ts';
import type { WeightQuantization } from '../types.ts';
import { quantizedLayout, quantizeMatrix, type QuantBits } from './block-quantize.ts';
import {
  openDerivedFile,
  writeDerivedFile,
  type DerivedTensor,
  type DerivedTensors,
} from './derived-weights-file.ts';
import { externalTensor } from './derived-tensor-initializer.ts';
import { findLinearWeights, type LinearWeight } from './find-linear-weights.ts';
import { pruneGraph } from './prune-graph.ts';
import {
  ACCURACY_LEVEL,
  BLOCK_SIZE,
  DERIVED_FORMAT,
  MIN_INPUT_FEATURES,
  QUANT_BITS,
} from './quantization-settings.ts';
import { readWeightFloats, weightBytes } from './read-weight-floats.ts';

export interface QuantizeGraphOptions {
  readonly quantization: Exclude<WeightQuantization, 'none'>;
  /** The derived file goes to `CACHE_DIR/quantized/`. */
  readonly cacheDir: string;
  /** Tells apart graphs over the same files (`unet`, `text_encoder`) in the derived file's name. */
  readonly name: string;
  /** What external-data locations are relative to; `/` as the checkpoint builders use. */
  readonly externalDataRoot?: string;
}

export interface QuantizedGraph {
  /** The serialized graph, its quantized weights pointing into `derivedFile`. */
  readonly bytes: Uint8Array;
  /** `undefined` when the graph had no weight to quantize. */
  readonly derivedFile: string | undefined;
  /** The derived file was already there and whole: nothing was computed. */
  readonly reused: boolean;
  readonly quantizedWeights: number;
}

/** One stored weight and the MatMuls that read it. */
interface WeightGroup {
  readonly key: string;
  readonly linear: LinearWeight;
  readonly matMuls: LinearWeight[];
  readonly tensors: readonly [DerivedTensor, DerivedTensor, DerivedTensor];
}

/**
 * The graph transform behind `quantization: int8 | int4`: every MatMul over a constant 2-D
 * float weight stored as external data (what the checkpoint graph builders emit for torch
 * `nn.Linear`, through its Cast and Transpose) becomes a com.microsoft `MatMulNBits` over
 * block-quantized codes. Works on any serialized ModelProto, so a new family's graphs are
 * quantized without change. Convolutions, norms and embeddings stay in float.
 *
 * The codes are computed once into a derived `.safetensors` file under `cacheDir`, whose header
 * records the source files' identity (path, size, mtime) and the settings; the next load over
 * the same bytes reuses it, and a file that is partial, corrupt or stale is rebuilt.
 */
export async function quantizeGraph(
  bytes: Uint8Array,
  options: QuantizeGraphOptions,
): Promise<QuantizedGraph> {
  const root = options.externalDataRoot ?? '/';
  const bits = QUANT_BITS[options.quantization];
  const model = fromBinary(ModelProtoSchema, bytes);
  const graph = model.graph;
  if (!graph) return { bytes, derivedFile: undefined, reused: false, quantizedWeights: 0 };
  const groups = groupWeights(findLinearWeights(graph), root, bits);
  if (groups.length === 0) {
    return { bytes, derivedFile: undefined, reused: false, quantizedWeights: 0 };
  }
  const sources = [...new Set(groups.map((g) => sourceFile(g.linear, root)))].sort();
  const identity = JSON.stringify({
    format: DERIVED_FORMAT,
    bits,
    blockSize: BLOCK_SIZE,
    sources: await Promise.all(
      sources.map(async (file) => ({ file, ...(await fileIdentity(file)) })),
    ),
    weights: sha256(groups.map((g) => g.key).join('\n')),
  });
  const dir = path.join(options.cacheDir, 'quantized');
  await mkdir(dir, { recursive: true });
  const file = path.join(
    await realpath(dir),
    `${options.name}-${options.quantization}-${sha256(`${sources.join('\n')}\n${options.name}`).slice(0, 16)}.safetensors`,
  );
  const tensors = groups.flatMap((g) => g.tensors);
  const existing = await openDerivedFile(file, identity, tensors);
  const derived =
    existing ?? (await writeDerivedFile(file, identity, tensors, produce(groups, root, bits)));
  rewrite(model, groups, derived, root, bits);
  return {
    bytes: toBinary(ModelProtoSchema, model),
    derivedFile: file,
    reused: existing !== undefined,
    quantizedWeights: groups.length,
  };
}

function groupWeights(
  found: readonly LinearWeight[],
  root: string,
  bits: QuantBits,
): WeightGroup[] {
  const groups = new Map<string, WeightGroup>();
  for (const linear of found) {
    if (linear.k < MIN_INPUT_FEATURES) continue;
    const source = weightBytes(linear.weight, root);
    // Weights inside the graph have no file identity to key a cache on; none of ours are.
    if (source.kind !== 'external') continue;
    const key = [source.file, source.offset, source.length, linear.weight.dataType]
      .concat(linear.storedAsKByN ? ['KxN'] : [])
      .join(':');
    const group = groups.get(key);
    if (group) group.matMuls.push(linear);
    else
      groups.set(key, {
        key,
        linear,
        matMuls: [linear],
        tensors: derivedTensors(groups.size, linear, bits),
      });
  }
  return [...groups.values()];
}

function derivedTensors(
  index: number,
  { n, k, computeType }: LinearWeight,
  bits: QuantBits,
): WeightGroup['tensors'] {
  const layout = quantizedLayout(n, k, bits, BLOCK_SIZE);
  const half = computeType === DataType.FLOAT16;
  return [
    {
      name: `${index}.codes`,
      dtype: 'U8',
      shape: [n, layout.kBlocks, (BLOCK_SIZE * bits) / 8],
      byteLength: layout.codeBytes,
    },
    {
      name: `${index}.scales`,
      dtype: half ? 'F16' : 'F32',
      shape: [layout.scaleCount],
      byteLength: layout.scaleCount * (half ? 2 : 4),
    },
    {
      name: `${index}.zero_points`,
      dtype: 'U8',
      shape: [layout.zeroPointBytes],
      byteLength: layout.zeroPointBytes,
    },
  ];
}

async function* produce(
  groups: readonly WeightGroup[],
  root: string,
  bits: QuantBits,
): AsyncGenerator<Uint8Array> {
  for (const { linear } of groups) {
    const values = await readWeightFloats(linear.weight, root);
    const quantized = quantizeMatrix(values, linear.n, linear.k, {
      bits,
      blockSize: BLOCK_SIZE,
      transposed: linear.storedAsKByN,
    });
    yield quantized.codes;
    yield linear.computeType === DataType.FLOAT16
      ? new Uint8Array(float32ToHalf(quantized.scales).buffer)
      : new Uint8Array(quantized.scales.buffer);
    yield quantized.zeroPoints;
  }
}

/** Replaces each MatMul in place (same output, same position) and drops what it no longer reads. */
function rewrite(
  model: ReturnType<typeof fromBinary<typeof ModelProtoSchema>>,
  groups: readonly WeightGroup[],
  derived: DerivedTensors,
  root: string,
  bits: QuantBits,
): void {
  const graph = model.graph;
  if (!graph) return;
  const location = path.relative(root, derived.file);
  for (const group of groups) {
    const names = group.tensors.map((tensor) => {
      const range = derived.ranges.get(tensor.name);
      if (!range) throw new Error(`derived file lacks ${tensor.name}`);
      const name = `quantized_${tensor.name}`;
      graph.initializer.push(externalTensor(name, tensor, location, range));
      return name;
    });
    for (const { matMul } of group.matMuls) {
      matMul.opType = 'MatMulNBits';
      matMul.domain = 'com.microsoft';
      matMul.input = [matMul.input[0] ?? '', ...names];
      matMul.attribute = [
        intAttribute('K', group.linear.k),
        intAttribute('N', group.linear.n),
        intAttribute('bits', bits),
        intAttribute('block_size', BLOCK_SIZE),
        intAttribute('accuracy_level', ACCURACY_LEVEL),
      ];
    }
  }
  if (!model.opsetImport.some((opset) => opset.domain === 'com.microsoft')) {
    model.opsetImport.push(
      create(OperatorSetIdProtoSchema, { domain: 'com.microsoft', version: 1n }),
    );
  }
  pruneGraph(graph);
}

function intAttribute(
  name: string,
  value: number,
): ReturnType<typeof create<typeof AttributeProtoSchema>> {
  return create(AttributeProtoSchema, { name, type: AttributeType.INT, i: BigInt(value) });
}

function sourceFile(linear: LinearWeight, root: string): string {
  const source = weightBytes(linear.weight, root);
  return source.kind === 'external' ? source.file : '';
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
