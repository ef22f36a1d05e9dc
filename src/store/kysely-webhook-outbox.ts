import type { Kysely, Selectable } from 'kysely';
import type {
  AttemptOutcome,
  DeliveryStatus,
  OutboxClaim,
  WebhookDelivery,
  WebhookOutbox,
} from '../webhooks/webhook-outbox.ts';
import type { Database, WebhookDeliveriesTable } from './database-schema.ts';
import { isSqlite } from './write-transaction.ts';

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
    claimedBy: row.claimed_by,
  };
}

/** Why a delivery whose last attempt's claim lapsed is failed. */
const LAPSED = 'the sender of the last attempt stopped before it ended (its claim lapsed)';

/**
 * {@link WebhookOutbox} on Kysely (SQLite and PostgreSQL). A claim is one UPDATE … RETURNING
 * whose rows come from a subquery: on PostgreSQL the subquery takes them `FOR UPDATE SKIP
 * LOCKED`, so concurrent claims on several nodes split the due rows instead of queueing on
 * them (and a row another claim just moved is re-checked and left out); SQLite runs one
 * writing statement at a time, which is atomic by itself.
 */
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
        claimed_by: d.claimedBy,
      })
      .execute();
  }

  async claimDue(c: OutboxClaim): Promise<WebhookDelivery[]> {
    await this.#db
      .updateTable('webhook_deliveries')
      .set({ status: 'failed', last_error: LAPSED })
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', c.now)
      .where('attempts', '>=', c.maxAttempts)
      .execute();
    const due = this.#db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', c.now)
      .where('attempts', '<', c.maxAttempts)
      .orderBy('next_attempt_at', 'asc')
      .orderBy('created_at', 'asc')
      .limit(c.limit);
    const rows = await this.#db
      .updateTable('webhook_deliveries')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        claimed_by: c.claimant,
        next_attempt_at: c.now + c.leaseMs,
      }))
      .where('id', 'in', isSqlite(this.#db) ? due : due.forUpdate().skipLocked())
      .returningAll()
      .execute();
    return rows.map(toDelivery).sort((a, b) => a.createdAt - b.createdAt);
  }

  async settle(id: string, attempt: number, outcome: AttemptOutcome): Promise<boolean> {
    const result = await this.#db
      .updateTable('webhook_deliveries')
      .set({
        status: outcome.status,
        next_attempt_at: outcome.nextAttemptAt,
        last_error: outcome.lastError,
        claimed_by: null,
      })
      .where('id', '=', id)
      .where('attempts', '=', attempt)
      .where('claimed_by', 'is not', null)
      .where('status', 'in', ['pending', 'failed'])
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
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
