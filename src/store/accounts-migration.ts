import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/**
 * API keys, the credit ledger, idempotency keys, users and sessions. The database guards the
 * money: `credits >= 0` is a CHECK, and UNIQUE (job_id, kind) on the ledger means a job is charged
 * at most once and refunded at most once, whatever crashes or retries happen.
 */
export const accountsMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('prefix', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull().unique())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('credits', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('rate_limit', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('max_jobs', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('expires_at', 'double precision')
      .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('user_id', 'text')
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .addCheckConstraint('api_keys_credits_not_negative', sql`credits >= 0`)
      .execute();
    await db.schema.createIndex('api_keys_user').on('api_keys').column('user_id').execute();
    await db.schema
      .createTable('credit_ledger')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('amount', 'bigint', (c) => c.notNull())
      .addColumn('balance_after', 'bigint', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('job_id', 'text')
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .addCheckConstraint(
        'credit_ledger_kind',
        sql`kind in ('grant', 'charge', 'refund', 'adjustment')`,
      )
      .addUniqueConstraint('credit_ledger_job_kind', ['job_id', 'kind'])
      .execute();
    await db.schema
      .createIndex('credit_ledger_key')
      .on('credit_ledger')
      .columns(['key_id', 'created_at'])
      .execute();
    await db.schema
      .createTable('idempotency_keys')
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('job_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .addPrimaryKeyConstraint('idempotency_keys_pk', ['owner', 'key'])
      .execute();
    await db.schema
      .createIndex('idempotency_keys_created')
      .on('idempotency_keys')
      .column('created_at')
      .execute();
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('username', 'text', (c) => c.notNull().unique())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('sessions')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'double precision', (c) => c.notNull())
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ['sessions', 'users', 'idempotency_keys', 'credit_ledger', 'api_keys'])
      await db.schema.dropTable(table).execute();
  },
};
