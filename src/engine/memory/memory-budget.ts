import { EngineError } from '../engine-error.ts';
import type { MemoryEstimate, WeightQuantization } from '../types.ts';
import { QUANTIZATIONS } from './estimate-memory.ts';

const GB = 1024 ** 3;
const gb = (bytes: number): string => `${(bytes / GB).toFixed(1)} GB`;

/**
 * Refuses a model whose estimate under `quantization` exceeds the budget, naming the numbers and
 * the least lossy quantization that would fit (or saying none does).
 */
export function assertFitsMemoryBudget(
  name: string,
  estimate: MemoryEstimate,
  quantization: WeightQuantization,
  budgetBytes: number,
): void {
  const need = estimate.byQuantization[quantization];
  if (need.totalBytes <= budgetBytes) return;
  const fits = QUANTIZATIONS.find((q) => estimate.byQuantization[q].totalBytes <= budgetBytes);
  const advice = fits
    ? `quantization: ${fits} would fit (about ${gb(estimate.byQuantization[fits].totalBytes)})`
    : `no quantization fits: int4 still needs about ${gb(estimate.byQuantization.int4.totalBytes)}`;
  throw new EngineError(
    'MODEL_TOO_LARGE',
    `model '${name}' needs about ${gb(need.totalBytes)} with quantization ${quantization} ` +
      `(weights ${gb(need.weightBytes)} + working memory ${gb(need.activationBytes)} at ` +
      `${estimate.width}×${estimate.height}), more than workers.memoryBudgetGb (${gb(budgetBytes)}); ${advice}`,
  );
}
