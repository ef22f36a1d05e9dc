import { Webhook } from 'standardwebhooks';
import type { Job } from '../jobs/job.ts';
import type { Logger } from '../jobs/logger.ts';
import { checkWebhookUrl } from './check-webhook-url.ts';
import { postWebhook, type ResolveHost } from './post-webhook.ts';
import { webhookDeliveryOf } from './webhook-delivery-of.ts';
import type { WebhookDelivery, WebhookOutbox } from './webhook-outbox.ts';

export interface WebhookSenderOptions {
  readonly secret: string;
  readonly allowPrivateAddresses: boolean;
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly timeoutMs: number;
  /** How delivery resolves host names (the system resolver when absent). */
  readonly resolveHost?: ResolveHost;
  /** Builds the event payload's job object. */
  readonly describe: (job: Job) => Record<string, unknown>;
}

/**
 * Delivers `job.completed` / `job.failed` / `job.cancelled` as Standard Webhooks from the persisted
 * outbox: signed, retried with exponential backoff and full jitter, surviving restarts.
 */
export class WebhookSender {
  readonly #outbox: WebhookOutbox;
  readonly #o: WebhookSenderOptions;
  readonly #logger: Logger;
  readonly #webhook: Webhook;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(outbox: WebhookOutbox, options: WebhookSenderOptions, logger: Logger) {
    this.#outbox = outbox;
    this.#o = options;
    this.#logger = logger;
    this.#webhook = new Webhook(options.secret);
  }

  /** The outbox row of a finished job ({@link webhookDeliveryOf}); {@link poll} sends it. */
  deliveryOf(job: Job): WebhookDelivery | undefined {
    return webhookDeliveryOf(job, this.#o.describe);
  }

  start(intervalMs = 1000): void {
    this.#timer = setInterval(() => this.poll(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Sends every due delivery once. */
  poll(): void {
    if (this.#busy) return;
    this.#busy = true;
    void this.#deliverDue()
      .catch((error: unknown) => this.#logger.error({ err: error }, 'webhook delivery pass failed'))
      .finally(() => {
        this.#busy = false;
      });
  }

  async #deliverDue(): Promise<void> {
    for (const delivery of await this.#outbox.listDue(Date.now(), 20))
      await this.#deliver(delivery);
  }

  async #deliver(d: WebhookDelivery): Promise<void> {
    const attempts = d.attempts + 1;
    let error: string | null = null;
    try {
      // Scheme and shape only here: postWebhook checks the addresses it actually connects to.
      await checkWebhookUrl(d.url, true);
      const timestamp = new Date();
      const status = await postWebhook(d.url, {
        headers: {
          'content-type': 'application/json',
          'webhook-id': d.id,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': this.#webhook.sign(d.id, timestamp, d.payload),
          'user-agent': 'Pictor-Webhooks',
        },
        body: d.payload,
        timeoutMs: this.#o.timeoutMs,
        allowPrivateAddresses: this.#o.allowPrivateAddresses,
        ...(this.#o.resolveHost ? { resolve: this.#o.resolveHost } : {}),
      });
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (e) {
      error = (e as Error).message;
    }
    if (error === null) {
      await this.#outbox.update(d.id, { attempts, status: 'delivered', lastError: null });
      return;
    }
    const failed = attempts >= this.#o.maxAttempts;
    const backoff = this.#o.initialBackoffMs * 2 ** (attempts - 1);
    const delay = Math.min(backoff, 6 * 3600_000) * (0.5 + Math.random() * 0.5);
    await this.#outbox.update(d.id, {
      attempts,
      status: failed ? 'failed' : 'pending',
      nextAttemptAt: Date.now() + delay,
      lastError: error,
    });
    this.#logger.warn(
      { webhookId: d.id, jobId: d.jobId, attempts, error },
      failed ? 'webhook delivery gave up' : 'webhook delivery will retry',
    );
  }
}
