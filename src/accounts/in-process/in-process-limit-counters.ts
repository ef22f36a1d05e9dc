import type { LimitCounters, SlotLease, TokenTake } from '../limit-counters.ts';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** A bucket untouched this long has refilled completely: dropping it changes nothing. */
const FULL_REFILL_MS = 60_000;

/**
 * {@link LimitCounters} in this process's memory: the embedded mode's, where one process serves
 * every request. Operations finish synchronously, so they are atomic within the process.
 */
export class InProcessLimitCounters implements LimitCounters {
  readonly #buckets = new Map<string, Bucket>();
  readonly #slots = new Map<string, Map<string, number>>();
  readonly #maxBuckets: number;

  constructor(maxBuckets = 100_000) {
    this.#maxBuckets = maxBuckets;
  }

  takeToken(key: string, perMinute: number, now: number): Promise<TokenTake> {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxBuckets) this.#evict(now);
      bucket = { tokens: perMinute, updatedAt: now };
      this.#buckets.set(key, bucket);
    }
    const refill = (Math.max(0, now - bucket.updatedAt) * perMinute) / FULL_REFILL_MS;
    bucket.tokens = Math.min(perMinute, bucket.tokens + refill);
    bucket.updatedAt = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    return Promise.resolve({ allowed, tokens: bucket.tokens });
  }

  acquireSlot(key: string, holder: string, limit: number, lease: SlotLease): Promise<boolean> {
    const holders = this.#live(key, lease.now);
    if (!holders.has(holder) && holders.size >= limit) return Promise.resolve(false);
    holders.set(holder, lease.now + lease.leaseMs);
    this.#slots.set(key, holders);
    return Promise.resolve(true);
  }

  releaseSlot(key: string, holder: string): Promise<void> {
    const holders = this.#slots.get(key);
    holders?.delete(holder);
    if (holders?.size === 0) this.#slots.delete(key);
    return Promise.resolve();
  }

  countSlots(key: string, now: number): Promise<number> {
    return Promise.resolve(this.#live(key, now).size);
  }

  close(): Promise<void> {
    this.#buckets.clear();
    this.#slots.clear();
    return Promise.resolve();
  }

  /** `key`'s holders, without those whose lease ran out. */
  #live(key: string, now: number): Map<string, number> {
    const holders = this.#slots.get(key) ?? new Map<string, number>();
    for (const [holder, until] of holders) if (until <= now) holders.delete(holder);
    return holders;
  }

  /** Forgets buckets that refilled completely (they behave exactly like new ones). */
  #evict(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.updatedAt > FULL_REFILL_MS) this.#buckets.delete(key);
    }
    if (this.#buckets.size >= this.#maxBuckets) this.#buckets.clear();
  }
}
