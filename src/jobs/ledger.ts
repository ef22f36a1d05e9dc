import type { Job } from './job.ts';

/** Credits charged for a job and the owner's balance after it; null until accounts exist. */
export interface Charge {
  readonly creditsUsed: number | null;
  readonly creditsRemaining: number | null;
}

/**
 * Where credits are charged. The job service charges at acceptance (a refusal there rejects the
 * job) and refunds when a job fails, is cancelled or expires. The accounts issue implements it;
 * {@link FreeLedger} charges nothing.
 */
export interface Ledger {
  charge(job: Job): Promise<Charge>;
  refund(job: Job): Promise<void>;
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
