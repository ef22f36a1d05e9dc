import type { Job } from './job.ts';

/** Credits charged for a job and the owner's balance after it; null when nothing is metered. */
export interface Charge {
  readonly creditsUsed: number | null;
  readonly creditsRemaining: number | null;
}

/**
 * Where credits are charged. The job service charges at acceptance (a refusal there, `402
 * INSUFFICIENT_CREDITS`, rejects the job) and refunds when a job fails, is cancelled or expires.
 * Implementations charge a job at most once and refund it at most once, however often they are
 * called (retries, crashes, restarts). `src/accounts/` implements it on the credit ledger;
 * {@link FreeLedger} charges nothing (auth disabled).
 */
export interface Ledger {
  /** `scopes`: the authenticated caller's, when known (saves looking the owner up again). */
  charge(job: Job, caller?: { readonly scopes?: readonly string[] | undefined }): Promise<Charge>;
  /** Gives back what `job` was charged; a no-op when it was not charged or already refunded. */
  refund(job: Job, reason?: string): Promise<void>;
  /** The owner's credits; null when the owner is not metered. */
  balance(owner: string): Promise<number | null>;
}

export class FreeLedger implements Ledger {
  charge(): Promise<Charge> {
    return Promise.resolve({ creditsUsed: null, creditsRemaining: null });
  }

  refund(): Promise<void> {
    return Promise.resolve();
  }

  balance(): Promise<number | null> {
    return Promise.resolve(null);
  }
}
