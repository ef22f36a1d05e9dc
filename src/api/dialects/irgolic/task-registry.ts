import type { TaskRequest } from './irgolic-params.ts';

/** What the dialect remembers of a task it accepted. */
export interface TaskEntry {
  readonly request: TaskRequest;
  /** The public token it was made with (`POST /token/all`): its WebSocket session. */
  readonly session: string | undefined;
}

/** Most tasks remembered; the oldest are forgotten first (they then echo rebuilt image URLs). */
const MAX_TASKS = 10_000;

/**
 * Tasks accepted through this dialect, in memory: their request as sent (for `parameters_used`)
 * and their public session. A task forgotten (restart, overflow) still works: its kind and image
 * URLs are rebuilt from the job, and it is shown to no public session's WebSocket.
 */
export class TaskRegistry {
  readonly #tasks = new Map<string, TaskEntry>();
  readonly #listeners = new Set<(jobId: string, entry: TaskEntry) => void>();

  add(jobId: string, entry: TaskEntry): void {
    this.#tasks.set(jobId, entry);
    for (const listener of this.#listeners) listener(jobId, entry);
    if (this.#tasks.size > MAX_TASKS) {
      const oldest = this.#tasks.keys().next().value;
      if (oldest !== undefined) this.#tasks.delete(oldest);
    }
  }

  get(jobId: string): TaskEntry | undefined {
    return this.#tasks.get(jobId);
  }

  /**
   * Calls `listener` for each task added from now on; returns the unsubscribe function. (A
   * job's first events go out while it is being submitted, before it is added here.)
   */
  onAdd(listener: (jobId: string, entry: TaskEntry) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
