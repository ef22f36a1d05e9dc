import { ProblemError } from '../errors/index.ts';
import type { Job } from '../jobs/job.ts';
import type { Charge, Ledger } from '../jobs/ledger.ts';
import type { CreditStore } from './credit-store.ts';
import type { KeyRepository } from './key-repository.ts';

/** Owner of jobs made through the key-less link: never charged. */
export const KEYLESS_OWNER = 'anonymous';

export interface AccountLedgerOptions {
  /** Credits a job costs: its `n` times the model's price. */
  readonly costOf: (job: Job) => number;
}

/**
 * The jobs' {@link Ledger} on API keys and the credit ledger. Admin keys are operators' keys and
 * are not metered (their jobs record 0 credits); the key-less link is free (and rate limited).
 */
export class AccountLedger implements Ledger {
  readonly #keys: KeyRepository;
  readonly #credits: CreditStore;
  readonly #o: AccountLedgerOptions;

  constructor(keys: KeyRepository, credits: CreditStore, options: AccountLedgerOptions) {
    this.#keys = keys;
    this.#credits = credits;
    this.#o = options;
  }

  async charge(
    job: Job,
    caller?: { readonly scopes?: readonly string[] | undefined },
  ): Promise<Charge> {
    if (job.owner === KEYLESS_OWNER) return { creditsUsed: null, creditsRemaining: null };
    const scopes = caller?.scopes ?? (await this.#keys.get(job.owner))?.scopes;
    if (!scopes) throw new ProblemError('UNAUTHORIZED', 'the API key no longer exists');
    if (scopes.includes('admin')) return { creditsUsed: 0, creditsRemaining: null };
    const cost = this.#o.costOf(job);
    const plural = (n: number): string => `${n} credit${n === 1 ? '' : 's'}`;
    const outcome = await this.#credits.charge(
      job.owner,
      job.id,
      cost,
      `${job.params.n} image${job.params.n === 1 ? '' : 's'} on ${job.model}`,
    );
    if (!outcome.ok) {
      throw new ProblemError(
        'INSUFFICIENT_CREDITS',
        `this request costs ${plural(cost)} but the key has ${plural(outcome.balance)}`,
        { extensions: { balance: outcome.balance, cost } },
      );
    }
    return { creditsUsed: outcome.amount, creditsRemaining: outcome.balance };
  }

  async refund(job: Job, reason = 'the job ended without a result'): Promise<void> {
    if (job.owner === KEYLESS_OWNER) return;
    await this.#credits.refund(job.id, reason);
  }

  async balance(owner: string): Promise<number | null> {
    if (owner === KEYLESS_OWNER) return null;
    const key = await this.#keys.get(owner);
    if (!key || key.scopes.includes('admin')) return null;
    return key.credits;
  }

  /**
   * Refunds every job charged but never settled: its row is missing (the process died between
   * the charge and the insert) or it ended without a result and without a refund (it died between
   * the two). Run at start, before taking requests. Returns the job ids refunded.
   */
  async reconcile(): Promise<string[]> {
    const refunded: string[] = [];
    for (const jobId of await this.#credits.unsettled()) {
      if (await this.#credits.refund(jobId, 'reconciled at start: the job never completed'))
        refunded.push(jobId);
    }
    return refunded;
  }
}
