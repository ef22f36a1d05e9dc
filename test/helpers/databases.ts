import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Kysely } from 'kysely';
import { openDatabase, type Database } from '../../src/store/index.ts';

export const POSTGRES_URL =
  process.env['PICTOR_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A database under test, with a way to drop it afterwards. */
export interface TestDatabase {
  readonly db: Kysely<Database>;
  readonly driver: 'sqlite' | 'postgres';
  readonly url: string;
  readonly schema: string | undefined;
  cleanup(): Promise<void>;
}

export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** Why the dialect is skipped, or undefined when it is available. */
  readonly skip: string | undefined;
  open(): Promise<TestDatabase>;
}

/** Why PostgreSQL suites skip (printed by the suite), or undefined when `url`'s server answers. */
export async function postgresUnavailable(url = POSTGRES_URL): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL unreachable at ${url}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Runs one statement on a connection of its own to `serverUrl`, closed after it: what a test does
 * around its databases (CREATE/DROP DATABASE, which no pooled or in-transaction client may run).
 */
export async function runStatement(statement: string, serverUrl = POSTGRES_URL): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

export function openSqlite(): Promise<TestDatabase> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pictor-db-'));
  const url = path.join(dir, 'test.db');
  return openDatabase({ driver: 'sqlite', url }).then((db) => ({
    db,
    driver: 'sqlite' as const,
    url,
    schema: undefined,
    async cleanup() {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  }));
}

export async function openPostgres(): Promise<TestDatabase> {
  const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const db = await openDatabase({ driver: 'postgres', url: POSTGRES_URL, schema });
  return {
    db,
    driver: 'postgres',
    url: POSTGRES_URL,
    schema,
    async cleanup() {
      await db.destroy();
      await runStatement(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

/** Every dialect, each with a skip reason when its server is unreachable (printed by the suite). */
export async function dialects(): Promise<Dialect[]> {
  const pgSkip = await postgresUnavailable();
  if (pgSkip) console.log(`# skipping PostgreSQL: ${pgSkip}`);
  return [
    { name: 'sqlite', skip: undefined, open: openSqlite },
    { name: 'postgres', skip: pgSkip, open: openPostgres },
  ];
}
