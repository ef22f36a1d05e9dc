import type { ApiKey, Scope } from './api-key.ts';

/** Fields an admin (or the owning user) may change; credits change only through the ledger. */
export interface KeyPatch {
  readonly name?: string;
  readonly scopes?: readonly Scope[];
  readonly rateLimit?: number;
  readonly maxJobs?: number;
  readonly expiresAt?: number | null;
  readonly active?: boolean;
  readonly priority?: number;
}

export interface ListKeysOptions {
  readonly limit: number;
  readonly offset?: number;
  /** Only this user's keys. */
  readonly userId?: string;
}

/** Persistence of API keys. Implemented by `src/store/` for SQLite and PostgreSQL. */
export interface KeyRepository {
  /**
   * Inserts a key stored under `hash`. Its `credits` are recorded, in the same transaction, as a
   * `grant` in the ledger, so the ledger always sums to the balance.
   */
  create(key: ApiKey, hash: string, grantReason: string): Promise<void>;
  get(id: string): Promise<ApiKey | undefined>;
  getByHash(hash: string): Promise<ApiKey | undefined>;
  /** Oldest first. */
  list(options: ListKeysOptions): Promise<ApiKey[]>;
  /** Returns the updated key, or undefined when there is none. */
  update(id: string, patch: KeyPatch): Promise<ApiKey | undefined>;
  count(options?: { readonly userId?: string; readonly activeOnly?: boolean }): Promise<number>;
}
