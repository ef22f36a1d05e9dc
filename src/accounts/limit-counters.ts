/** A token taken from a bucket, or refused; `tokens` is what the bucket holds afterwards. */
export interface TokenTake {
  readonly allowed: boolean;
  readonly tokens: number;
}

/** How long a slot is held at most, and the clock to judge it by. */
export interface SlotLease {
  /** Epoch milliseconds of the caller's clock. */
  readonly now: number;
  /**
   * The slot is freed by itself this long after it was (last) acquired, should its release never
   * come (a node that died holding it). Make it longer than anything may hold one.
   */
  readonly leaseMs: number;
}

/**
 * The counters behind per-key rate limits and in-flight limits. Each operation is atomic over
 * everything that shares the store — one process (`in-process/`), or every API node of a cluster
 * (`redis/`): two nodes can never both take a bucket's last token or a limit's last slot. One
 * conformance suite (`test/accounts/limit-counters.test.ts`) runs over every adapter.
 *
 * Times are the callers' clocks (`now`), which keeps the arithmetic testable; nodes of a cluster
 * are expected to keep time within well under a second of each other (NTP), far below the
 * per-minute granularity of the limits.
 */
export interface LimitCounters {
  /**
   * Takes one token from the bucket `key`: it holds up to `perMinute` tokens (a new bucket is
   * full) and refills continuously at `perMinute / 60` per second. Refused (nothing taken) when
   * under one token is left.
   */
  takeToken(key: string, perMinute: number, now: number): Promise<TokenTake>;
  /**
   * Takes a slot of `key` (at most `limit` holders at once) for `holder`; false when all are
   * taken. A holder already in holds its slot still (its lease starts over) and gets true.
   */
  acquireSlot(key: string, holder: string, limit: number, lease: SlotLease): Promise<boolean>;
  /** Frees `holder`'s slot of `key`; a holder without one is not an error. */
  releaseSlot(key: string, holder: string): Promise<void>;
  /** Holders of `key` whose lease runs past `now`. */
  countSlots(key: string, now: number): Promise<number>;
  /** Releases connections; not used after. */
  close(): Promise<void>;
}
