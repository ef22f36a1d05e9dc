export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One webhook message to deliver; persisted so a restart does not drop it. */
export interface WebhookDelivery {
  /** Also the `webhook-id` header: receivers deduplicate on it. Stable across retries. */
  readonly id: string;
  readonly jobId: string;
  readonly url: string;
  readonly eventType: string;
  /** The exact JSON body that is signed and sent. */
  readonly payload: string;
  /** Attempts claimed so far, the one under way included (it is the claim's fencing token). */
  readonly attempts: number;
  /** When the delivery is due; while it is claimed, when the claim lapses. */
  readonly nextAttemptAt: number;
  readonly status: DeliveryStatus;
  readonly lastError: string | null;
  readonly createdAt: number;
  /** The sender whose attempt is under way (claimed, not yet settled); null when none is. */
  readonly claimedBy: string | null;
}

/** A claim on due deliveries ({@link WebhookOutbox.claimDue}). */
export interface OutboxClaim {
  readonly now: number;
  readonly limit: number;
  /** Who claims: a node's id, recorded in `claimedBy`. */
  readonly claimant: string;
  /** How long the claim holds; past it, the delivery is due again for any sender. */
  readonly leaseMs: number;
  /** A delivery whose last allowed attempt lapsed (its sender died) is failed, not claimed. */
  readonly maxAttempts: number;
}

/** How one attempt ended ({@link WebhookOutbox.settle}). */
export interface AttemptOutcome {
  readonly status: DeliveryStatus;
  /** When a `pending` delivery is due again (its backoff). */
  readonly nextAttemptAt: number;
  readonly lastError: string | null;
}

/**
 * Persisted outbox of webhook deliveries, shared by every node that sends them; implemented by
 * `src/store/` on SQLite and PostgreSQL (one conformance suite, `test/webhooks/conformance/`).
 *
 * Contract:
 * - `add` writes a `pending` delivery (in the transaction that ends its job, on any node).
 * - `claimDue` hands each due `pending` delivery to one claimant at a time: in one atomic step it
 *   counts the attempt (`attempts + 1`, returned), records the claimant and moves `nextAttemptAt`
 *   to `now + leaseMs`. Concurrent claims, from any process, never return the same attempt. Due
 *   deliveries come oldest due first, at most `limit`.
 * - A claim lapses by itself: a sender that died mid-delivery leaves the delivery due again at
 *   `nextAttemptAt`, and the next claim counts a new attempt (the lost one counted, so backoff
 *   and `maxAttempts` hold whatever crashed). A lapsed claim whose attempt was the last allowed
 *   (`attempts >= maxAttempts`) is marked `failed` instead of claimed again.
 * - `settle` records attempt `attempt`'s outcome and ends the claim, only while that attempt is
 *   the latest and unsettled (fencing): a sender whose claim lapsed and was taken over gets false
 *   and changes nothing, so a slow sender never overwrites a newer attempt. A last attempt that
 *   lapsed into `failed` may still be settled by its sender (what it saw is the truth).
 * - The same `id` (the `webhook-id`) is sent on every attempt.
 */
export interface WebhookOutbox {
  add(delivery: WebhookDelivery): Promise<void>;
  /** Claims due deliveries for `claim.claimant` (see the contract), oldest due first. */
  claimDue(claim: OutboxClaim): Promise<WebhookDelivery[]>;
  /** Ends attempt `attempt` of delivery `id`; false when that attempt's claim was lost. */
  settle(id: string, attempt: number, outcome: AttemptOutcome): Promise<boolean>;
  get(id: string): Promise<WebhookDelivery | undefined>;
  listByJob(jobId: string): Promise<WebhookDelivery[]>;
}
