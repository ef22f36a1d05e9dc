import type { GraphProto } from 'onnx-buf';

/**
 * Removes nodes no graph output depends on, then initializers nothing reads: the Transpose and
 * Cast a replaced MatMul read its weight through, and the float weight itself, which ONNX
 * Runtime would otherwise still load.
 */
export function pruneGraph(graph: GraphProto): void {
  let changed = true;
  while (changed) {
    const used = usedValues(graph);
    const kept = graph.node.filter((node) => node.output.some((output) => used.has(output)));
    changed = kept.length !== graph.node.length;
    graph.node = kept;
  }
  const used = usedValues(graph);
  graph.initializer = graph.initializer.filter((tensor) => used.has(tensor.name));
}

function usedValues(graph: GraphProto): Set<string> {
  const used = new Set(graph.output.map((output) => output.name));
  for (const node of graph.node) for (const input of node.input) used.add(input);
  return used;
}
