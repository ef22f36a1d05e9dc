import { randomUUID } from 'node:crypto';
import type { DispatchItem, DispatchQueue, Lease } from '../dispatch-queue.ts';
import { placeForNode, type NodeHoldings } from '../model-placement.ts';

export interface InProcessDispatchQueueOptions {
  /** How long a claim holds without a heartbeat. */
  readonly leaseMs: number;
  /** The clock (tests move it instead of waiting). */
  readonly now?: () => number;
}

interface Waiting {
  readonly item: DispatchItem;
  /** Orders equal priorities: added order, and negative for jobs that came back (ahead). */
  readonly order: number;
  readonly deliveries: number;
}

/** A node's holdings as it last told them, until they expire. */
interface Presented {
  readonly node: NodeHoldings;
  readonly expiresAt: number;
}

interface Held {
  readonly lease: Lease;
  expiresAt: number;
}

/**
 * {@link DispatchQueue} in this process's memory, for the embedded mode and tests. Leases and
 * nodes' holdings are checked for expiry on every call, so no timer runs: an expired job is back
 * by the next claim. Placement reads every waiting job in run order.
 */
export class InProcessDispatchQueue implements DispatchQueue {
  readonly #o: InProcessDispatchQueueOptions;
  readonly #now: () => number;
  readonly #waiting = new Map<string, Waiting>();
  readonly #held = new Map<string, Held>();
  readonly #nodes = new Map<string, Presented>();
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
      });
    return Promise.resolve();
  }

  claim(node?: NodeHoldings): Promise<Lease | undefined> {
    this.#expire();
    const waiting = [...this.#waiting.values()].sort((a, b) => (before(a, b) ? -1 : 1));
    if (!node) return Promise.resolve(this.#lease(waiting[0]));
    this.#present(node);
    const entries = waiting.map((w) => ({ model: w.item.model, waiting: w }));
    const others = [...this.#nodes.values()].map((p) => p.node);
    const placed = placeForNode(entries, node, others);
    if (!placed) return Promise.resolve(undefined);
    // Busy with the job's model from now, for the other nodes' claims.
    this.#present({
      node: node.node,
      workers: node.workers.map((w) =>
        w.worker === placed.worker
          ? { ...w, idle: false, models: [...w.models, placed.entry.model] }
          : w,
      ),
    });
    return Promise.resolve(this.#lease(placed.entry.waiting, placed.worker));
  }

  claimModel(model: string): Promise<Lease | undefined> {
    this.#expire();
    let next: Waiting | undefined;
    for (const candidate of this.#waiting.values())
      if (candidate.item.model === model && (!next || before(candidate, next))) next = candidate;
    return Promise.resolve(this.#lease(next));
  }

  present(node: NodeHoldings): Promise<void> {
    this.#present(node);
    return Promise.resolve();
  }

  withdraw(node: string): Promise<void> {
    this.#nodes.delete(node);
    return Promise.resolve();
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

  #lease(next: Waiting | undefined, worker?: number): Lease | undefined {
    if (!next) return undefined;
    this.#waiting.delete(next.item.jobId);
    const lease: Lease = {
      item: next.item,
      token: randomUUID(),
      delivery: next.deliveries + 1,
      worker,
    };
    this.#held.set(next.item.jobId, { lease, expiresAt: this.#now() + this.#o.leaseMs });
    return lease;
  }

  #present(node: NodeHoldings): void {
    this.#nodes.set(node.node, { node, expiresAt: this.#now() + this.#o.leaseMs });
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
    for (const [id, presented] of this.#nodes)
      if (presented.expiresAt <= now) this.#nodes.delete(id);
  }

  #giveBack(held: Held): void {
    const { item, delivery } = held.lease;
    this.#held.delete(item.jobId);
    this.#waiting.set(item.jobId, {
      item,
      order: -++this.#returned,
      deliveries: delivery,
    });
  }
}

function before(a: Waiting, b: Waiting): boolean {
  if (a.item.priority !== b.item.priority) return a.item.priority > b.item.priority;
  return a.order < b.order;
}
