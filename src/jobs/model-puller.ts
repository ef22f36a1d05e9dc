/** Where a pull on request stands: Ollama's pull statuses, bytes over all of the model's files. */
export interface ModelPullProgress {
  readonly status: 'pulling manifest' | 'downloading' | 'verifying';
  readonly completed: number;
  /** Bytes of every file; undefined until the source has said. */
  readonly total: number | undefined;
}

/** `hf:…` and `civitai:…` references, and bare Hugging Face ids (`org/repo`). */
const PULLABLE = /^(hf:|civitai:)|^[\w.-]+\/[\w.-]+$/;

/**
 * Whether a generation's model name is a reference the server pulls on request: Hugging Face and
 * CivitAI ones only — never URLs or local paths, which a generation request must not reach.
 */
export function isPullableReference(name: string): boolean {
  return PULLABLE.test(name);
}

/**
 * Pulls a model a generation names before the library has it (`models.pullOnRequest`). The job
 * service accepts the job, keeps it `queued`, and queues it for a worker once the pull resolves.
 * `src/cli/` implements it on the model library.
 */
export interface ModelPuller {
  /** Whether `name` is a reference this server pulls on request (a Hugging Face or CivitAI id). */
  pullable(name: string): boolean;
  /**
   * Pulls `name`, or joins the pull of it already under way (one download for every job naming
   * it). Resolves with the library name once the workers serve the model; rejects with a
   * `ProblemError` naming the cause (404, a token setting, a full disk, …).
   */
  pull(name: string, onProgress: (progress: ModelPullProgress) => void): Promise<string>;
}
