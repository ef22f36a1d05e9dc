export type LedgerKind = 'grant' | 'charge' | 'refund' | 'adjustment';

/** One append-only ledger row. `amount` is signed (charges are negative). */
export interface LedgerEntry {
  readonly id: string;
  readonly keyId: string;
  readonly kind: LedgerKind;
  readonly amount: number;
  readonly balanceAfter: number;
  readonly reason: string;
  readonly jobId: string | null;
  readonly createdAt: number;
}

export type ChargeOutcome =
  | { readonly ok: true; readonly balance: number; readonly amount: number }
  | { readonly ok: false; readonly balance: number };

export type AdjustOutcome =
  | { readonly ok: true; readonly balance: number }
  | { readonly ok: false; readonly reason: 'no-key' | 'negative'; readonly balance: number };

/**
 * Credits and their ledger. Every method changes the balance and appends its ledger row in one
 * transaction; the database, not a check-then-write, keeps balances from going negative and jobs
 * from being charged or refunded twice.
 */
export interface CreditStore {
  /**
   * Takes `cost` credits for `jobId` if the key has them (one conditional UPDATE). Charging a job
   * that was already charged takes nothing more and answers the first charge.
   */
  charge(keyId: string, jobId: string, cost: number, reason: string): Promise<ChargeOutcome>;
  /** Gives back what `jobId` was charged, once; undefined when it was never charged or already refunded. */
  refund(
    jobId: string,
    reason: string,
  ): Promise<{ readonly amount: number; readonly balance: number } | undefined>;
  /** Adds (or, negative, removes) credits: a `grant` or an `adjustment`. */
  adjust(
    keyId: string,
    amount: number,
    kind: 'grant' | 'adjustment',
    reason: string,
  ): Promise<AdjustOutcome>;
  balance(keyId: string): Promise<number | undefined>;
  /** Newest first. */
  entries(keyId: string, limit: number): Promise<LedgerEntry[]>;
  /** The ledger row of a job's charge or refund. */
  entryOf(jobId: string, kind: 'charge' | 'refund'): Promise<LedgerEntry | undefined>;
  /** Sum of a key's ledger amounts (equals its balance). */
  sum(keyId: string): Promise<number>;
  /**
   * Jobs charged but not refunded whose job row is missing (a crash between charge and insert)
   * or ended without a result (a crash between the transition and the refund).
   */
  unsettled(): Promise<string[]>;
}
