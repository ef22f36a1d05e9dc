import { EngineError } from '../engine-error.ts';
import type { MemoryEstimate, MemoryNeed, WeightQuantization } from '../types.ts';
import { QUANTIZATIONS } from './estimate-memory.ts';

const GB = 1024 ** 3;
const gb = (bytes: number): string => `${(bytes / GB).toFixed(1)} GB`;

/** What a model needs under one setting: every component at once, or one at a time (low memory). */
export function neededBytes(need: MemoryNeed, lowMemory: boolean): number {
  return lowMemory ? need.lowMemoryBytes : need.totalBytes;
}

/**
 * Refuses a model whose estimate under `quantization` (and memory mode) exceeds the budget,
 * naming the numbers and the least lossy quantization that would fit (or saying none does), and
 * low-memory mode when that would fit where the default mode does not.
 */
export function assertFitsMemoryBudget(
  name: string,
  estimate: MemoryEstimate,
  quantization: WeightQuantization,
  budgetBytes: number,
  lowMemory = false,
): void {
  const need = estimate.byQuantization[quantization];
  if (neededBytes(need, lowMemory) <= budgetBytes) return;
  const size = (q: WeightQuantization): number =>
    neededBytes(estimate.byQuantization[q], lowMemory);
  const fits = QUANTIZATIONS.find((q) => size(q) <= budgetBytes);
  let advice = fits
    ? `quantization: ${fits} would fit (about ${gb(size(fits))})`
    : `no quantization fits: int4 still needs about ${gb(size('int4'))}`;
  if (!lowMemory) {
    const lean = QUANTIZATIONS.find(
      (q) => estimate.byQuantization[q].lowMemoryBytes <= budgetBytes,
    );
    if (lean) {
      advice +=
        `; lowMemory: true would fit with quantization ${lean} ` +
        `(about ${gb(estimate.byQuantization[lean].lowMemoryBytes)})`;
    }
  }
  const at = `${estimate.width}×${estimate.height}`;
  // Folding float16/bfloat16 weights in ORT (nothing saved) can need more than a batch: say so.
  const cold =
    need.coldStartBytes > need.activationBytes
      ? `; each start holds ${gb(need.coldStartBytes)} more while ONNX Runtime folds its 16-bit weights (cacheOptimizedModels is off)`
      : '';
  const what = lowMemory
    ? `in low-memory mode (its largest component at a time, working memory ${gb(need.activationBytes)} at ${at}${cold})`
    : `(weights ${gb(need.weightBytes)} + working memory ${gb(need.activationBytes)} at ${at}${cold})`;
  throw new EngineError(
    'MODEL_TOO_LARGE',
    `model '${name}' needs about ${gb(neededBytes(need, lowMemory))} with quantization ${quantization} ` +
      `${what}, more than workers.memoryBudgetGb (${gb(budgetBytes)}); ${advice}`,
  );
}
