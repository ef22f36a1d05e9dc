import { sql, type ColumnType, type Kysely } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';

/** One blob: its expiry, and how its bytes are split. */
export interface BlobsTable {
  key: string;
  /** `bigint`: the driver reads it back as a string. */
  size: ColumnType<string, number, number>;
  expires_at: number | null;
}

/** One part of a blob's bytes, in order of `part`. */
export interface BlobPartsTable {
  key: string;
  part: number;
  data: Buffer;
}

// A type, not an interface: `Kysely.withTables` needs the implicit index signature.
export type BlobTables = {
  pictor_blobs: BlobsTable;
  pictor_blob_parts: BlobPartsTable;
};

/**
 * The blob tables' own migrations, tracked apart from the main schema's (their own migration
 * table): the tables exist only where the PostgreSQL blob store is used, and they evolve with it.
 * Never edit one that has shipped; add a new one.
 */
const MIGRATIONS: Record<string, Migration> = {
  '0001_blobs': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('pictor_blobs')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'double precision')
        .execute();
      await db.schema
        .createIndex('pictor_blobs_expiry')
        .on('pictor_blobs')
        .column('expires_at')
        .where(sql.ref('expires_at'), 'is not', null)
        .execute();
      await db.schema
        .createTable('pictor_blob_parts')
        .addColumn('key', 'text', (c) =>
          c.notNull().references('pictor_blobs.key').onDelete('cascade'),
        )
        .addColumn('part', 'integer', (c) => c.notNull())
        .addColumn('data', 'bytea', (c) => c.notNull())
        .addPrimaryKeyConstraint('pictor_blob_parts_pk', ['key', 'part'])
        .execute();
      // Images arrive compressed (PNG, JPEG, WebP): store them out of line without trying pglz.
      await sql`ALTER TABLE pictor_blob_parts ALTER COLUMN data SET STORAGE EXTERNAL`.execute(db);
    },
  },
};

/** Creates or updates the blob tables; safe when several nodes start at once (Kysely's lock). */
export async function migrateBlobTables(db: Kysely<unknown>): Promise<void> {
  // Named explicitly: without a schema, Kysely's migrator takes a migration table in any schema
  // of the database for its own (and then cannot find it on the search path).
  const { rows } = await sql<{ schema: string }>`SELECT current_schema() AS schema`.execute(db);
  const migrator = new Migrator({
    db,
    migrationTableSchema: rows[0]?.schema ?? 'public',
    provider: { getMigrations: () => Promise.resolve(MIGRATIONS) },
    migrationTableName: 'pictor_blob_migration',
    migrationLockTableName: 'pictor_blob_migration_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error)
    throw error instanceof Error
      ? error
      : new Error('blob table migration failed', { cause: error });
}
