export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One webhook message to deliver; persisted so a restart does not drop it. */
export interface WebhookDelivery {
  /** Also the `webhook-id` header: receivers deduplicate on it. */
  readonly id: string;
  readonly jobId: string;
  readonly url: string;
  readonly eventType: string;
  /** The exact JSON body that is signed and sent. */
  readonly payload: string;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly status: DeliveryStatus;
  readonly lastError: string | null;
  readonly createdAt: number;
}

/** Persisted outbox of webhook deliveries. Implemented by `src/store/`. */
export interface WebhookOutbox {
  add(delivery: WebhookDelivery): Promise<void>;
  /** Pending deliveries due at `now`, oldest first. */
  listDue(now: number, limit: number): Promise<WebhookDelivery[]>;
  update(
    id: string,
    patch: Partial<Pick<WebhookDelivery, 'attempts' | 'nextAttemptAt' | 'status' | 'lastError'>>,
  ): Promise<void>;
  get(id: string): Promise<WebhookDelivery | undefined>;
  listByJob(jobId: string): Promise<WebhookDelivery[]>;
}
