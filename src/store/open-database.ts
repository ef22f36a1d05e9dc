import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import type { Database } from './database-schema.ts';
import { migrationProvider } from './migrations.ts';
import { NodeSqliteDatabase } from './node-sqlite-database.ts';

export interface DatabaseOptions {
  readonly driver: 'sqlite' | 'postgres';
  /** SQLite file (or `:memory:`), or a `postgres://` URL. */
  readonly url: string;
  /** PostgreSQL schema to use (created if missing); lets test suites isolate themselves. */
  readonly schema?: string;
}

/** Opens the database with the configured dialect and brings its schema up to date. */
export async function openDatabase(options: DatabaseOptions): Promise<Kysely<Database>> {
  let db: Kysely<Database>;
  if (options.driver === 'sqlite') {
    if (options.url !== ':memory:') mkdirSync(path.dirname(options.url), { recursive: true });
    db = new Kysely<Database>({
      dialect: new SqliteDialect({ database: new NodeSqliteDatabase(options.url) }),
    });
  } else {
    const schema = options.schema;
    const pool = new pg.Pool({ connectionString: options.url, max: 10 });
    // An idle connection the server ends (restart, failover, idle timeout) is reported here; pg
    // has already dropped it from the pool and opens a new one on demand, so there is nothing to
    // do but not let the unhandled 'error' event end the process.
    pool.on('error', () => undefined);
    // The pool listens only while a client is idle. A client checked out (inside a transaction,
    // between two queries) whose connection ends emits 'error' with no listener, which would end
    // the process; its query has already failed, and pg discards the client when it is released.
    pool.on('connect', (client) => client.on('error', () => undefined));
    if (schema !== undefined) {
      if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
      pool.on('connect', (client) => {
        client.query(`SET search_path TO ${schema}`).catch(() => undefined);
      });
      const client = await pool.connect();
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await client.query(`SET search_path TO ${schema}`);
      } finally {
        client.release();
      }
    }
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  // A test schema is named explicitly: without it Kysely's migrator takes a migration table in
  // any schema of the database (another test run's) for its own.
  const { error } = await new Migrator({
    db,
    provider: migrationProvider,
    ...(options.schema === undefined ? {} : { migrationTableSchema: options.schema }),
  }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw error instanceof Error ? error : new Error('migration failed', { cause: error });
  }
  return db;
}
