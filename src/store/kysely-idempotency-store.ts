import type { Kysely, Selectable } from 'kysely';
import type { IdempotencyRecord, IdempotencyStore } from '../jobs/idempotency-store.ts';
import type { Database, IdempotencyKeysTable } from './database-schema.ts';

function toRecord(row: Selectable<IdempotencyKeysTable>): IdempotencyRecord {
  return {
    owner: row.owner,
    key: row.key,
    fingerprint: row.fingerprint,
    jobId: row.job_id,
    createdAt: Number(row.created_at),
  };
}

/** {@link IdempotencyStore} on Kysely (SQLite and PostgreSQL). */
export class KyselyIdempotencyStore implements IdempotencyStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async find(owner: string, key: string, since: number): Promise<IdempotencyRecord | undefined> {
    const row = await this.#db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('owner', '=', owner)
      .where('key', '=', key)
      .where('created_at', '>=', since)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async claim(record: IdempotencyRecord, since: number): Promise<IdempotencyRecord | undefined> {
    // A stale record (older than the window) no longer holds the key.
    await this.#db
      .deleteFrom('idempotency_keys')
      .where('owner', '=', record.owner)
      .where('key', '=', record.key)
      .where('created_at', '<', since)
      .execute();
    const inserted = await this.#db
      .insertInto('idempotency_keys')
      .values({
        owner: record.owner,
        key: record.key,
        fingerprint: record.fingerprint,
        job_id: record.jobId,
        created_at: record.createdAt,
      })
      .onConflict((oc) => oc.columns(['owner', 'key']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return undefined;
    return this.find(record.owner, record.key, 0);
  }

  async release(owner: string, key: string, jobId: string): Promise<void> {
    await this.#db
      .deleteFrom('idempotency_keys')
      .where('owner', '=', owner)
      .where('key', '=', key)
      .where('job_id', '=', jobId)
      .execute();
  }

  async purge(before: number): Promise<number> {
    const result = await this.#db
      .deleteFrom('idempotency_keys')
      .where('created_at', '<', before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
