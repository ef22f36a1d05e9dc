import type { JobQueue, QueueEntry } from '../job-queue.ts';

function before(a: QueueEntry, b: QueueEntry): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt;
  return a.id < b.id;
}

/** {@link JobQueue} in this process's memory: a sorted array (queues are bounded, so small). */
export class InProcessJobQueue implements JobQueue {
  readonly #entries: QueueEntry[] = [];
  readonly #ids = new Set<string>();

  get size(): number {
    return this.#entries.length;
  }

  add(entry: QueueEntry): void {
    if (this.#ids.has(entry.id)) return;
    this.#ids.add(entry.id);
    let low = 0;
    let high = this.#entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (before(this.#entries[mid] as QueueEntry, entry)) low = mid + 1;
      else high = mid;
    }
    this.#entries.splice(low, 0, entry);
  }

  remove(id: string): boolean {
    if (!this.#ids.delete(id)) return false;
    this.#entries.splice(
      this.#entries.findIndex((e) => e.id === id),
      1,
    );
    return true;
  }

  position(id: string): number | undefined {
    if (!this.#ids.has(id)) return undefined;
    return this.#entries.findIndex((e) => e.id === id);
  }

  ahead(id: string): readonly QueueEntry[] {
    const index = this.position(id);
    return index === undefined ? [] : this.#entries.slice(0, index);
  }

  takeBatch(maxJobs: number, maxImages: number): QueueEntry[] {
    const head = this.#entries[0];
    if (!head) return [];
    const batch = [head];
    let images = head.images;
    for (let i = 1; i < this.#entries.length && batch.length < maxJobs; i++) {
      const entry = this.#entries[i] as QueueEntry;
      if (entry.batchKey !== head.batchKey || images + entry.images > maxImages) continue;
      batch.push(entry);
      images += entry.images;
    }
    for (const entry of batch) this.remove(entry.id);
    return batch;
  }

  entries(): readonly QueueEntry[] {
    return this.#entries;
  }
}
