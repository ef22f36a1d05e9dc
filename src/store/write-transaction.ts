import { SqliteAdapter, sql, type Kysely } from 'kysely';
import type { Database } from './database-schema.ts';

/** Whether `db` talks to SQLite (else PostgreSQL). */
export function isSqlite(db: Kysely<Database>): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter;
}

/**
 * Runs `fn` in a transaction that writes. On SQLite it is `BEGIN IMMEDIATE`: the write lock is
 * taken up front, so another process (the CLI next to the server) waits on `busy_timeout` instead
 * of failing when a read inside the transaction is later upgraded to a write.
 */
export async function writeTransaction<T>(
  db: Kysely<Database>,
  fn: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  if (!isSqlite(db)) return db.transaction().execute(fn);
  return db.connection().execute(async (conn) => {
    await sql`BEGIN IMMEDIATE`.execute(conn);
    try {
      const result = await fn(conn);
      await sql`COMMIT`.execute(conn);
      return result;
    } catch (error) {
      // SQLite rolls back by itself on some errors (SQLITE_FULL: a full disk); a ROLLBACK then
      // fails with "no transaction is active" and would hide the error that matters.
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw error;
    }
  });
}

/** A UNIQUE or PRIMARY KEY violation, on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; errcode?: unknown; message?: unknown };
  if (e.code === '23505') return true; // PostgreSQL unique_violation
  // SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555)
  if (e.errcode === 2067 || e.errcode === 1555) return true;
  return typeof e.message === 'string' && /UNIQUE constraint failed/.test(e.message);
}
