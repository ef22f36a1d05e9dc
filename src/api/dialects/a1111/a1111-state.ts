import type { ModelInfo } from '../../../jobs/inference-workers.ts';

/** `name`, `name.safetensors`, `name [abc123]` or `dir/name.ckpt` → Pictor model `name`. */
export function modelFromTitle(models: readonly ModelInfo[], title: string): ModelInfo | undefined {
  const exact = models.find((m) => m.name === title);
  if (exact) return exact;
  const name = title
    .trim()
    .replace(/\s*\[[0-9a-fA-F]+\]$/, '')
    .replace(/\.(safetensors|ckpt|pt|pth|bin|onnx|gguf)$/i, '')
    .split(/[\\/]/)
    .at(-1);
  return models.find((m) => m.name === name);
}

/**
 * What AUTOMATIC1111 keeps globally, kept per caller: the selected checkpoint
 * (`POST /sdapi/v1/options`), and which jobs belong to one txt2img / img2img request (so
 * `interrupt` stops the rest of that request, as A1111 stops its remaining iterations).
 * In memory: a restart forgets the selections (clients set the model again when they start).
 */
export class A1111State {
  readonly #models = new Map<string, string>();
  readonly #groups = new Map<string, readonly string[]>();

  selectedModel(owner: string): string | undefined {
    return this.#models.get(owner);
  }

  selectModel(owner: string, model: string): void {
    this.#models.set(owner, model);
  }

  /** Records the jobs of one request; call the returned function when the request ends. */
  track(jobIds: readonly string[]): () => void {
    for (const id of jobIds) this.#groups.set(id, jobIds);
    return () => {
      for (const id of jobIds) this.#groups.delete(id);
    };
  }

  /** The jobs of the request `jobId` belongs to (itself alone when not tracked). */
  group(jobId: string): readonly string[] {
    return this.#groups.get(jobId) ?? [jobId];
  }
}
