import { sql, type Kysely } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import { accountsMigration } from './accounts-migration.ts';

/** Migrations in order. Never edit one that has shipped; add a new one. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_jobs_uploads_webhooks': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('priority', 'integer', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('batch_key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'double precision', (c) => c.notNull())
        .addColumn('started_at', 'double precision')
        .addColumn('finished_at', 'double precision')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addColumn('result', 'text')
        .addColumn('webhook_url', 'text')
        .addColumn('credits_used', 'double precision')
        .addColumn('result_expires_at', 'double precision')
        .addColumn('result_deleted', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('jobs_owner_created')
        .on('jobs')
        .columns(['owner', 'created_at'])
        .execute();
      await db.schema
        .createIndex('jobs_status')
        .on('jobs')
        .columns(['status', 'created_at'])
        .execute();
      await db.schema
        .createIndex('jobs_result_expiry')
        .on('jobs')
        .column('result_expires_at')
        .execute();
      await db.schema
        .createTable('uploads')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('mime_type', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'double precision', (c) => c.notNull())
        .addColumn('expires_at', 'double precision', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('uploads_expiry').on('uploads').column('expires_at').execute();
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'double precision', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'double precision', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull().defaultTo(sql`0`))
        .execute();
      await db.schema
        .createIndex('webhook_due')
        .on('webhook_deliveries')
        .columns(['status', 'next_attempt_at'])
        .execute();
      await db.schema
        .createIndex('webhook_job')
        .on('webhook_deliveries')
        .column('job_id')
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('webhook_deliveries').execute();
      await db.schema.dropTable('uploads').execute();
      await db.schema.dropTable('jobs').execute();
    },
  },
  '0002_accounts': accountsMigration,
  // Several API nodes send from one outbox: a delivery is claimed by one of them at a time (the
  // claim's lease is `next_attempt_at`, its fencing token `attempts`); this names the claimant.
  '0003_webhook_claims': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('webhook_deliveries').addColumn('claimed_by', 'text').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('webhook_deliveries').dropColumn('claimed_by').execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(MIGRATIONS),
};
