import type { ModelInfo } from '../../../jobs/inference-workers.ts';
import { findModel } from '../../../jobs/find-model.ts';

/** Longer than any checkpoint title; longer ones are refused before any parsing. */
const MAX_TITLE_LENGTH = 1024;

/** `title` without a trailing ` [hash]` (hex), found by position: no backtracking regex. */
function withoutHash(title: string): string {
  if (!title.endsWith(']')) return title;
  const open = title.lastIndexOf('[');
  if (open === -1 || !/^[0-9a-fA-F]+$/.test(title.slice(open + 1, -1))) return title;
  return title.slice(0, open).trimEnd();
}

/** `name`, `name.safetensors`, `name [abc123]` or `dir/name.ckpt` → Pictor model `name`. */
export function modelFromTitle(models: readonly ModelInfo[], title: string): ModelInfo | undefined {
  if (title.length > MAX_TITLE_LENGTH) return undefined;
  const exact = findModel(models, title);
  if (exact) return exact;
  const name = withoutHash(title.trim())
    .replace(/\.(safetensors|ckpt|pt|pth|bin|onnx|gguf)$/i, '')
    .split(/[\\/]/)
    .at(-1);
  return name === undefined ? undefined : findModel(models, name);
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
