import { SqliteAdapter, sql, type Kysely } from 'kysely';
import type { Database } from './database-schema.ts';

/** Whether `db` talks to SQLite (else PostgreSQL). */
export function isSqlite(db: Kysely<Database>): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter;
}

/** Handles bound to a transaction this module opened (SQLite's is a plain connection handle). */
const openTransactions = new WeakSet<Kysely<Database>>();
let savepoints = 0;

/**
 * Runs `fn` in a transaction that writes. On SQLite it is `BEGIN IMMEDIATE`: the write lock is
 * taken up front, so another process (the CLI next to the server) waits on `busy_timeout` instead
 * of failing when a read inside the transaction is later upgraded to a write. Called on a handle
 * that is already in a transaction, it runs in a savepoint of it: a store written for its own
 * transaction (the credit ledger) then joins a larger one (a job's transition), and a failure
 * inside still undoes only its own writes.
 */
export async function writeTransaction<T>(
  db: Kysely<Database>,
  fn: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  if (db.isTransaction || openTransactions.has(db)) return inSavepoint(db, fn);
  if (!isSqlite(db)) {
    return db.transaction().execute((trx) => {
      openTransactions.add(trx);
      return fn(trx);
    });
  }
  return db.connection().execute(async (conn) => {
    await sql`BEGIN IMMEDIATE`.execute(conn);
    openTransactions.add(conn);
    try {
      const result = await fn(conn);
      await sql`COMMIT`.execute(conn);
      return result;
    } catch (error) {
      await sql`ROLLBACK`.execute(conn);
      throw error;
    } finally {
      openTransactions.delete(conn);
    }
  });
}

async function inSavepoint<T>(
  trx: Kysely<Database>,
  fn: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  const name = sql.raw(`pictor_sp_${++savepoints}`);
  await sql`SAVEPOINT ${name}`.execute(trx);
  try {
    const result = await fn(trx);
    await sql`RELEASE SAVEPOINT ${name}`.execute(trx);
    return result;
  } catch (error) {
    await sql`ROLLBACK TO SAVEPOINT ${name}`.execute(trx);
    await sql`RELEASE SAVEPOINT ${name}`.execute(trx);
    throw error;
  }
}

/** A UNIQUE or PRIMARY KEY violation, on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; errcode?: unknown; message?: unknown };
  if (e.code === '23505') return true; // PostgreSQL unique_violation
  // SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555)
  if (e.errcode === 2067 || e.errcode === 1555) return true;
  return typeof e.message === 'string' && /UNIQUE constraint failed/.test(e.message);
}
