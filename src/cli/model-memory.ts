import type { LibraryModel } from '../library/library-model.ts';
import type { MemoryEstimate } from '../engine/index.ts';

const GB = 1024 ** 3;
const gb = (bytes: number): number => Math.round((bytes / GB) * 100) / 100;

/** `models info`'s memory section: the checkpoint's need per quantization against the budget. */
export interface ModelMemory {
  readonly data: Record<string, unknown> | null;
  readonly human: string;
}

/**
 * What the model needs in memory on CPU under each quantization (from its header; no weight is
 * read), in the default and the low-memory mode, which setting is configured and which fit
 * `workers.memoryBudgetGb`. ONNX folders run
 * their graphs as exported: no estimate.
 */
export async function modelMemory(
  model: LibraryModel,
  budgetGb: number,
  cacheOptimizedModels = true,
): Promise<ModelMemory> {
  if (model.format === 'onnx') return { data: null, human: '' };
  const { estimateModelMemory } = await import('../engine/index.ts');
  let estimate: MemoryEstimate | undefined;
  try {
    estimate = await estimateModelMemory(model.path, {
      coldStartFoldsInOrt: !cacheOptimizedModels,
    });
  } catch (error) {
    const message = (error as Error).message;
    return { data: { error: message }, human: `\nmemory: cannot estimate (${message})\n` };
  }
  if (!estimate) return { data: null, human: '' };
  const configured = model.quantization ?? 'none';
  const rows = Object.entries(estimate.byQuantization).map(([quantization, need]) => ({
    quantization,
    weights_gb: gb(need.weightBytes),
    working_gb: gb(need.activationBytes),
    cold_start_gb: gb(need.coldStartBytes),
    total_gb: gb(need.totalBytes),
    low_memory_gb: gb(need.lowMemoryBytes),
    fits_budget: need.totalBytes <= budgetGb * GB,
    configured: quantization === configured,
  }));
  const lines = rows.map(
    (r) =>
      `  ${r.quantization.padEnd(5)} ${r.total_gb.toFixed(2).padStart(7)} GB  ` +
      `(weights ${r.weights_gb.toFixed(2)} + working ${r.working_gb.toFixed(2)})` +
      `${r.fits_budget ? '' : '  over budget'}${r.configured ? '  ← configured' : ''}`,
  );
  const lean = rows.map((r) => `${r.quantization} ${r.low_memory_gb.toFixed(2)} GB`).join(', ');
  // Where ORT's folded float32 copies (nothing cached), not a batch, make the total: say so.
  const cold = rows
    .filter((r) => r.cold_start_gb > r.working_gb)
    .map((r) => `${r.quantization} +${r.cold_start_gb.toFixed(2)} GB`);
  const coldLine =
    cold.length > 0
      ? `  with workers.cacheOptimizedModels off, each start holds ONNX Runtime's float32 copies ` +
        `of the 16-bit linear weights instead of the working memory: ${cold.join(', ')}\n`
      : '';
  return {
    data: {
      family: estimate.family,
      at: `${estimate.width}x${estimate.height}`,
      budget_gb: gb(budgetGb * GB),
      by_quantization: rows,
    },
    human:
      `\nmemory on CPU (${estimate.family}, ${estimate.width}×${estimate.height}, batch of 2; ` +
      `workers.memoryBudgetGb ${budgetGb.toFixed(1)}):\n${lines.join('\n')}\n` +
      `  in low-memory mode (one component at a time): ${lean}\n${coldLine}`,
  };
}
