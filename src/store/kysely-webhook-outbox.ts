import type { Kysely, Selectable, Updateable } from 'kysely';
import type { DeliveryStatus, WebhookDelivery, WebhookOutbox } from '../webhooks/webhook-outbox.ts';
import type { Database, WebhookDeliveriesTable } from './database-schema.ts';

function toDelivery(row: Selectable<WebhookDeliveriesTable>): WebhookDelivery {
  return {
    id: row.id,
    jobId: row.job_id,
    url: row.url,
    eventType: row.event_type,
    payload: row.payload,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    status: row.status as DeliveryStatus,
    lastError: row.last_error,
    createdAt: Number(row.created_at),
  };
}

/** {@link WebhookOutbox} on Kysely (SQLite and PostgreSQL). */
export class KyselyWebhookOutbox implements WebhookOutbox {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async add(d: WebhookDelivery): Promise<void> {
    await this.#db
      .insertInto('webhook_deliveries')
      .values({
        id: d.id,
        job_id: d.jobId,
        url: d.url,
        event_type: d.eventType,
        payload: d.payload,
        attempts: d.attempts,
        next_attempt_at: d.nextAttemptAt,
        status: d.status,
        last_error: d.lastError,
        created_at: d.createdAt,
      })
      .execute();
  }

  async listDue(now: number, limit: number): Promise<WebhookDelivery[]> {
    const rows = await this.#db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at', 'asc')
      .orderBy('created_at', 'asc')
      .limit(limit)
      .execute();
    return rows.map(toDelivery);
  }

  async update(
    id: string,
    patch: Partial<Pick<WebhookDelivery, 'attempts' | 'nextAttemptAt' | 'status' | 'lastError'>>,
  ): Promise<void> {
    const row: Updateable<WebhookDeliveriesTable> = {};
    if (patch.attempts !== undefined) row.attempts = patch.attempts;
    if (patch.nextAttemptAt !== undefined) row.next_attempt_at = patch.nextAttemptAt;
    if (patch.status !== undefined) row.status = patch.status;
    if (patch.lastError !== undefined) row.last_error = patch.lastError;
    await this.#db.updateTable('webhook_deliveries').set(row).where('id', '=', id).execute();
  }

  async get(id: string): Promise<WebhookDelivery | undefined> {
    const row = await this.#db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toDelivery(row);
  }

  async listByJob(jobId: string): Promise<WebhookDelivery[]> {
    const rows = await this.#db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('job_id', '=', jobId)
      .orderBy('created_at', 'asc')
      .execute();
    return rows.map(toDelivery);
  }
}
