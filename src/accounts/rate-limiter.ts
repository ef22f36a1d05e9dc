interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** The outcome of one request against a bucket; `headers` go on every response. */
export interface RateDecision {
  readonly allowed: boolean;
  /** Seconds until a request would be allowed (0 when allowed). */
  readonly retryAfter: number;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Token buckets in this process's memory: each holds up to `perMinute` tokens (the burst) and
 * refills at `perMinute / 60` tokens per second; a request takes one. Headers follow the IETF
 * RateLimit fields draft: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds
 * until the bucket is full again).
 */
export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxBuckets: number;

  constructor(maxBuckets = 100_000) {
    this.#maxBuckets = maxBuckets;
  }

  take(id: string, perMinute: number, now = Date.now()): RateDecision {
    const ratePerMs = perMinute / 60_000;
    let bucket = this.#buckets.get(id);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxBuckets) this.#evict(now);
      bucket = { tokens: perMinute, updatedAt: now };
      this.#buckets.set(id, bucket);
    }
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.updatedAt) * ratePerMs);
    bucket.updatedAt = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    const reset = Math.ceil((perMinute - bucket.tokens) / ratePerMs / 1000);
    const retryAfter = allowed ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000));
    return {
      allowed,
      retryAfter,
      headers: {
        'ratelimit-limit': String(perMinute),
        'ratelimit-remaining': String(Math.floor(bucket.tokens)),
        'ratelimit-reset': String(reset),
        'ratelimit-policy': `${perMinute};w=60`,
      },
    };
  }

  /** Forgets buckets that refilled completely (they behave exactly like new ones). */
  #evict(now: number): void {
    for (const [id, bucket] of this.#buckets) {
      if (now - bucket.updatedAt > 60_000) this.#buckets.delete(id);
    }
    if (this.#buckets.size >= this.#maxBuckets) this.#buckets.clear();
  }
}
