import { EngineError } from '../../engine-error.ts';
import type { TensorIndex, TensorRef } from '../tensor-ref.ts';
import type { OnnxGraph, Value, WeightView } from './onnx-graph.ts';

/**
 * The tensors under one module prefix (`input_blocks.1.1.`), read by name as the reference code
 * names its parameters. A missing tensor is an error naming the full name, so a checkpoint that
 * does not have the layout a builder expects fails at build time, not in ONNX Runtime.
 */
export class ModuleWeights {
  readonly graph: OnnxGraph;
  readonly #index: TensorIndex;
  readonly #prefix: string;
  readonly #component: string;

  constructor(graph: OnnxGraph, index: TensorIndex, component: string, prefix = '') {
    this.graph = graph;
    this.#index = index;
    this.#component = component;
    this.#prefix = prefix;
  }

  /** The weights under `name.` (`scope('to_q')`). */
  scope(name: string): ModuleWeights {
    return new ModuleWeights(this.graph, this.#index, this.#component, `${this.#prefix}${name}.`);
  }

  /** Whether any tensor lives under `name.` (a module, not a tensor). */
  holds(name: string): boolean {
    const start = `${this.#prefix}${name}.`;
    for (const key of this.#index.keys()) if (key.startsWith(start)) return true;
    return false;
  }

  has(name: string): boolean {
    return this.#index.has(this.#prefix + name);
  }

  ref(name: string): TensorRef {
    const ref = this.#index.get(this.#prefix + name);
    if (!ref) {
      throw new EngineError(
        'MODEL_INVALID',
        `${this.#component}: tensor '${this.#prefix}${name}' is missing`,
      );
    }
    return ref;
  }

  shape(name: string): readonly number[] {
    return this.ref(name).shape;
  }

  /** Dimension `axis` of tensor `name`. */
  dim(name: string, axis: number): number {
    const size = this.shape(name)[axis];
    if (size === undefined) {
      throw new EngineError(
        'MODEL_INVALID',
        `${this.#component}: tensor '${this.#prefix}${name}' has no dimension ${axis}`,
      );
    }
    return size;
  }

  /** The tensor as a graph value of the graph's float type. */
  value(name: string, view?: WeightView): Value {
    return this.graph.weight(`${this.#component}.${this.#prefix}${name}`, this.ref(name), view);
  }

  /** How many `name.N.` modules exist, counting from 0 (`transformer_blocks`). */
  count(name: string): number {
    let count = 0;
    const start = `${this.#prefix}${name}.`;
    const keys = [...this.#index.keys()].filter((key) => key.startsWith(start));
    while (keys.some((key) => key.startsWith(`${start}${count}.`))) count++;
    return count;
  }
}
