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
  /** This sender's name on its claims (the node's id): several may share one outbox. */
  readonly claimant: string;
  /** How long a claim holds ({@link claimLeaseMs} of the timeout when absent). */
  readonly claimMs?: number;
}

/** Deliveries claimed at once; they are sent concurrently, so one lease covers them all. */
const CLAIM_BATCH = 10;

/**
 * A claim's lease for a send timeout: a claimed attempt is over within `timeoutMs` (the request's
 * own deadline), then settled with one UPDATE; twice that plus 5 s leaves room for a slow
 * database and event loop, and a sender that died is replaced within it.
 */
export function claimLeaseMs(timeoutMs: number): number {
  return 2 * timeoutMs + 5000;
}

/**
 * Delivers `job.completed` / `job.failed` / `job.cancelled` as Standard Webhooks from the persisted
 * outbox: signed, retried with exponential backoff and full jitter, surviving restarts. Every API
 * node runs one over the shared outbox: each attempt is claimed first, so one sender at a time
 * sends a delivery, and one that died mid-send is retried by another once its claim lapses.
 */
export class WebhookSender {
  readonly #outbox: WebhookOutbox;
  readonly #o: WebhookSenderOptions;
  readonly #logger: Logger;
  readonly #webhook: Webhook;
  readonly #claimMs: number;
  #timer: NodeJS.Timeout | undefined;
  /** The delivery pass under way, if any. */
  #pass: Promise<void> | undefined;
  /** A poll came while a pass ran: run another after it (what it signals may be newer). */
  #again = false;

  constructor(outbox: WebhookOutbox, options: WebhookSenderOptions, logger: Logger) {
    this.#outbox = outbox;
    this.#o = options;
    this.#logger = logger;
    this.#webhook = new Webhook(options.secret);
    this.#claimMs = options.claimMs ?? claimLeaseMs(options.timeoutMs);
  }

  /** The outbox row of a finished job ({@link webhookDeliveryOf}); {@link poll} sends it. */
  deliveryOf(job: Job): WebhookDelivery | undefined {
    return webhookDeliveryOf(job, this.#o.describe);
  }

  start(intervalMs = 1000): void {
    this.#timer = setInterval(() => this.poll(), intervalMs);
    this.#timer.unref();
  }

  /** Stops polling; resolves once the pass under way has settled its attempts. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#again = false;
    await this.idle();
  }

  /** Sends every due delivery this sender can claim, once each. */
  poll(): void {
    if (this.#pass) {
      this.#again = true;
      return;
    }
    this.#again = false;
    this.#pass = this.#deliverDue()
      .catch((error: unknown) => this.#logger.error({ err: error }, 'webhook delivery pass failed'))
      .finally(() => {
        this.#pass = undefined;
        if (this.#again) this.poll();
      });
  }

  /** Resolves once no pass is running or asked for. */
  async idle(): Promise<void> {
    while (this.#pass) await this.#pass;
  }

  async #deliverDue(): Promise<void> {
    for (;;) {
      const claimed = await this.#outbox.claimDue({
        now: Date.now(),
        limit: CLAIM_BATCH,
        claimant: this.#o.claimant,
        leaseMs: this.#claimMs,
        maxAttempts: this.#o.maxAttempts,
      });
      await Promise.all(claimed.map((d) => this.#deliver(d)));
      if (claimed.length < CLAIM_BATCH) return;
    }
  }

  /** Sends attempt `d.attempts` (claimed), then settles it. */
  async #deliver(d: WebhookDelivery): Promise<void> {
    const attempts = d.attempts;
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
      const settled = await this.#outbox.settle(d.id, attempts, {
        status: 'delivered',
        nextAttemptAt: Date.now(),
        lastError: null,
      });
      if (!settled) this.#lost(d);
      return;
    }
    const failed = attempts >= this.#o.maxAttempts;
    const backoff = this.#o.initialBackoffMs * 2 ** (attempts - 1);
    const delay = Math.min(backoff, 6 * 3600_000) * (0.5 + Math.random() * 0.5);
    const settled = await this.#outbox.settle(d.id, attempts, {
      status: failed ? 'failed' : 'pending',
      nextAttemptAt: Date.now() + delay,
      lastError: error,
    });
    if (!settled) return this.#lost(d);
    this.#logger.warn(
      { webhookId: d.id, jobId: d.jobId, attempts, error },
      failed ? 'webhook delivery gave up' : 'webhook delivery will retry',
    );
  }

  /** The claim lapsed before the attempt ended (another sender may have sent it since). */
  #lost(d: WebhookDelivery): void {
    this.#logger.warn(
      { webhookId: d.id, jobId: d.jobId, attempts: d.attempts },
      'webhook attempt outlived its claim; its outcome was not recorded',
    );
  }
}
