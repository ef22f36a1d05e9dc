import { randomUUID } from 'node:crypto';
import type { DispatchItem, DispatchQueue, Lease } from '../dispatch-queue.ts';

export interface InProcessDispatchQueueOptions {
  /** How long a claim holds without a heartbeat. */
  readonly leaseMs: number;
  /** How long the first job of a priority may be passed over for a held model's (0: never). */
  readonly preferForMs?: number;
  /** The clock (tests move it instead of waiting). */
  readonly now?: () => number;
}

interface Waiting {
  readonly item: DispatchItem;
  /** Orders equal priorities: added order, and negative for jobs that came back (ahead). */
  readonly order: number;
  readonly deliveries: number;
  /** When it started to wait (the affinity's limit). */
  readonly since: number;
}

interface Held {
  readonly lease: Lease;
  expiresAt: number;
}

/**
 * {@link DispatchQueue} in this process's memory, for the embedded mode and tests. Leases are
 * checked for expiry on every call, so no timer runs: an expired job is back by the next claim.
 */
export class InProcessDispatchQueue implements DispatchQueue {
  readonly #o: InProcessDispatchQueueOptions;
  readonly #now: () => number;
  readonly #waiting = new Map<string, Waiting>();
  readonly #held = new Map<string, Held>();
  #added = 0;
  #returned = 0;

  constructor(options: InProcessDispatchQueueOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  add(item: DispatchItem): Promise<void> {
    this.#expire();
    if (!this.#waiting.has(item.jobId) && !this.#held.has(item.jobId))
      this.#waiting.set(item.jobId, {
        item,
        order: ++this.#added,
        deliveries: 0,
        since: this.#now(),
      });
    return Promise.resolve();
  }

  claim(prefer: readonly string[] = []): Promise<Lease | undefined> {
    this.#expire();
    let next: Waiting | undefined;
    for (const candidate of this.#waiting.values()) {
      if (!next || before(candidate, next)) next = candidate;
    }
    const preferForMs = this.#o.preferForMs ?? 0;
    if (next && !prefer.includes(next.item.model) && this.#now() - next.since < preferForMs) {
      const head = next;
      let held: Waiting | undefined;
      for (const candidate of this.#waiting.values()) {
        if (candidate.item.priority !== head.item.priority) continue;
        if (!prefer.includes(candidate.item.model)) continue;
        if (!held || before(candidate, held)) held = candidate;
      }
      next = held ?? head;
    }
    if (!next) return Promise.resolve(undefined);
    this.#waiting.delete(next.item.jobId);
    const lease: Lease = { item: next.item, token: randomUUID(), delivery: next.deliveries + 1 };
    this.#held.set(next.item.jobId, { lease, expiresAt: this.#now() + this.#o.leaseMs });
    return Promise.resolve(lease);
  }

  heartbeat(lease: Lease): Promise<boolean> {
    const held = this.#holding(lease);
    if (held) held.expiresAt = this.#now() + this.#o.leaseMs;
    return Promise.resolve(held !== undefined);
  }

  complete(lease: Lease): Promise<boolean> {
    const held = this.#holding(lease);
    if (held) this.#held.delete(lease.item.jobId);
    return Promise.resolve(held !== undefined);
  }

  release(lease: Lease): Promise<boolean> {
    const held = this.#holding(lease);
    if (held) this.#giveBack(held);
    return Promise.resolve(held !== undefined);
  }

  remove(jobId: string): Promise<boolean> {
    this.#expire();
    return Promise.resolve(this.#waiting.delete(jobId));
  }

  state(jobId: string): Promise<'waiting' | 'leased' | undefined> {
    this.#expire();
    if (this.#waiting.has(jobId)) return Promise.resolve('waiting');
    return Promise.resolve(this.#held.has(jobId) ? 'leased' : undefined);
  }

  waitingCount(): Promise<number> {
    this.#expire();
    return Promise.resolve(this.#waiting.size);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The lease's entry if `lease` still holds it (same token, not expired). */
  #holding(lease: Lease): Held | undefined {
    this.#expire();
    const held = this.#held.get(lease.item.jobId);
    return held?.lease.token === lease.token ? held : undefined;
  }

  #expire(): void {
    const now = this.#now();
    for (const held of this.#held.values()) if (held.expiresAt <= now) this.#giveBack(held);
  }

  #giveBack(held: Held): void {
    const { item, delivery } = held.lease;
    this.#held.delete(item.jobId);
    this.#waiting.set(item.jobId, {
      item,
      order: -++this.#returned,
      deliveries: delivery,
      since: this.#now(),
    });
  }
}

function before(a: Waiting, b: Waiting): boolean {
  if (a.item.priority !== b.item.priority) return a.item.priority > b.item.priority;
  return a.order < b.order;
}
