import { workUnits, type JobQueue, type QueueEntry, type QueueTotals } from '../job-queue.ts';

function before(a: QueueEntry, b: QueueEntry): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt;
  return a.id < b.id;
}

/** {@link JobQueue} in this process's memory: a sorted array (queues are bounded, so small). */
export class InProcessJobQueue implements JobQueue {
  readonly #entries: QueueEntry[] = [];
  readonly #byId = new Map<string, QueueEntry>();
  readonly #perBatchKey = new Map<string, { count: number; model: string }>();
  readonly #unitsPerModel = new Map<string, number>();

  get size(): number {
    return this.#entries.length;
  }

  add(entry: QueueEntry): void {
    if (this.#byId.has(entry.id)) return;
    this.#byId.set(entry.id, entry);
    this.#entries.splice(this.#insertionIndex(entry), 0, entry);
    this.#count(entry, 1);
  }

  remove(id: string): boolean {
    const entry = this.#byId.get(id);
    if (!entry) return false;
    this.#byId.delete(id);
    this.#entries.splice(this.#insertionIndex(entry), 1);
    this.#count(entry, -1);
    return true;
  }

  position(id: string): number | undefined {
    const entry = this.#byId.get(id);
    return entry && this.#insertionIndex(entry);
  }

  totals(): QueueTotals {
    return { perBatchKey: this.#perBatchKey, unitsPerModel: this.#unitsPerModel };
  }

  /** Where `entry` stands (or would stand) in run order: a binary search, the order is total. */
  #insertionIndex(entry: QueueEntry): number {
    let low = 0;
    let high = this.#entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (before(this.#entries[mid] as QueueEntry, entry)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #count(entry: QueueEntry, delta: 1 | -1): void {
    const key = this.#perBatchKey.get(entry.batchKey) ?? { count: 0, model: entry.model };
    key.count += delta;
    if (key.count === 0) this.#perBatchKey.delete(entry.batchKey);
    else this.#perBatchKey.set(entry.batchKey, key);
    const units = (this.#unitsPerModel.get(entry.model) ?? 0) + delta * workUnits(entry);
    if (this.#byId.size === 0) this.#unitsPerModel.clear();
    else this.#unitsPerModel.set(entry.model, units);
  }

  ahead(id: string): readonly QueueEntry[] {
    const index = this.position(id);
    return index === undefined ? [] : this.#entries.slice(0, index);
  }

  takeBatch(maxJobs: number, maxImages: number, headId?: string): QueueEntry[] {
    const start = headId === undefined ? 0 : this.position(headId);
    const head = start === undefined ? undefined : this.#entries[start];
    if (start === undefined || !head) return [];
    const batch = [head];
    let images = head.images;
    for (let i = start + 1; i < this.#entries.length && batch.length < maxJobs; i++) {
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
