/** A client's `Idempotency-Key`, remembered with the job it created. */
export interface IdempotencyRecord {
  /** The caller it belongs to: keys are scoped per owner. */
  readonly owner: string;
  readonly key: string;
  /** Hash of the request (route and body): the same key with another request is refused. */
  readonly fingerprint: string;
  readonly jobId: string;
  readonly createdAt: number;
}

/**
 * Remembers which job an `Idempotency-Key` created, so a retried request gets the same job and
 * pays nothing more. Implemented by `src/store/` for SQLite and PostgreSQL (a primary key on
 * (owner, key) decides a race between two processes).
 */
export interface IdempotencyStore {
  /** The record of (owner, key) created at or after `since`, if any. */
  find(owner: string, key: string, since: number): Promise<IdempotencyRecord | undefined>;
  /**
   * Records `record` unless (owner, key) is already held by a record created at or after
   * `since` (older ones are replaced); returns the holder, or undefined when `record` won.
   */
  claim(record: IdempotencyRecord, since: number): Promise<IdempotencyRecord | undefined>;
  /** Forgets a claim whose submission failed, so a retry can succeed. */
  release(owner: string, key: string, jobId: string): Promise<void>;
  /** Deletes records created before `before`; returns how many. */
  purge(before: number): Promise<number>;
}
