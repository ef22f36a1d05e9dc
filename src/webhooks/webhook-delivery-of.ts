import { randomUUID } from 'node:crypto';
import type { Job } from '../jobs/job.ts';
import type { WebhookDelivery } from './webhook-outbox.ts';

/**
 * The outbox row announcing a finished job; undefined without `webhook_url`. Written in the
 * transaction that ends the job (so neither happens without the other), by whichever node ends
 * it; a {@link WebhookSender} sends it. `describe` builds the payload's job object.
 */
export function webhookDeliveryOf(
  job: Job,
  describe: (job: Job) => Record<string, unknown>,
): WebhookDelivery | undefined {
  if (!job.webhookUrl || job.status === 'queued' || job.status === 'running') return undefined;
  const now = Date.now();
  const type = `job.${job.status}`;
  return {
    id: `msg_${randomUUID()}`,
    jobId: job.id,
    url: job.webhookUrl,
    eventType: type,
    payload: JSON.stringify({ type, timestamp: new Date(now).toISOString(), data: describe(job) }),
    attempts: 0,
    nextAttemptAt: now,
    status: 'pending',
    lastError: null,
    createdAt: now,
    claimedBy: null,
  };
}
