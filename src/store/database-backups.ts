import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync, backup } from 'node:sqlite';
import { promisify } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { ProblemError } from '../errors/index.ts';
import type { Database } from './database-schema.ts';

const run = promisify(execFile);

/** One backup file. */
export interface BackupInfo {
  readonly name: string;
  readonly size: number;
  /** Epoch ms (the file's modification time). */
  readonly createdAt: number;
}

export interface BackupTarget {
  readonly driver: 'sqlite' | 'postgres';
  /** SQLite file or `postgres://` URL. */
  readonly url: string;
  /** PostgreSQL schema the tables live in, when not the default. */
  readonly schema?: string | undefined;
}

const NAME = /^pictor-[\w.-]+\.(db|dump)$/;

/** libpq environment for a `postgres://` URL, so the password never shows in `ps`. */
function pgEnv(url: string): NodeJS.ProcessEnv {
  const u = new URL(url);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PGHOST: u.hostname,
    PGDATABASE: u.pathname.slice(1),
  };
  if (u.port) env['PGPORT'] = u.port;
  if (u.username) env['PGUSER'] = decodeURIComponent(u.username);
  if (u.password) env['PGPASSWORD'] = decodeURIComponent(u.password);
  const sslmode = u.searchParams.get('sslmode');
  if (sslmode) env['PGSSLMODE'] = sslmode;
  return env;
}

async function tool(name: 'pg_dump' | 'pg_restore'): Promise<void> {
  try {
    await run(name, ['--version']);
  } catch {
    throw new ProblemError(
      'BACKUP_UNAVAILABLE',
      `PostgreSQL backups use ${name}, which is not on the PATH of the server: install the PostgreSQL client tools (same major version as the server) or use your provider's snapshots`,
    );
  }
}

function stamp(now: Date): string {
  return now.toISOString().replaceAll(':', '-');
}

/**
 * Consistent online copies of the database. SQLite: `VACUUM INTO` (a snapshot taken in one read
 * transaction while the server keeps running). PostgreSQL: `pg_dump --format=custom` (a
 * snapshot too) when the client tools are installed; otherwise `BACKUP_UNAVAILABLE`.
 */
export class DatabaseBackups {
  readonly #db: Kysely<Database>;
  readonly #target: BackupTarget;
  readonly #dir: string;

  constructor(db: Kysely<Database>, target: BackupTarget, dir: string) {
    this.#db = db;
    this.#target = target;
    this.#dir = dir;
  }

  get dir(): string {
    return this.#dir;
  }

  async create(label = ''): Promise<BackupInfo> {
    await mkdir(this.#dir, { recursive: true });
    const ext = this.#target.driver === 'sqlite' ? 'db' : 'dump';
    const name = `pictor-${label}${stamp(new Date())}.${ext}`;
    const file = path.join(this.#dir, name);
    if (this.#target.driver === 'sqlite') {
      if (this.#target.url === ':memory:')
        throw new ProblemError(
          'BACKUP_UNAVAILABLE',
          'an in-memory SQLite database has nothing to back up',
        );
      await sql`VACUUM INTO ${file}`.execute(this.#db);
    } else {
      await tool('pg_dump');
      const schema = this.#target.schema ? [`--schema=${this.#target.schema}`] : [];
      try {
        await run('pg_dump', ['--format=custom', '--no-owner', `--file=${file}`, ...schema], {
          env: pgEnv(this.#target.url),
        });
      } catch (error) {
        await rm(file, { force: true });
        const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
        throw new ProblemError(
          'BACKUP_UNAVAILABLE',
          `pg_dump failed: ${stderr || (error as Error).message}`,
        );
      }
    }
    return this.#info(name);
  }

  async #info(name: string): Promise<BackupInfo> {
    const s = await stat(path.join(this.#dir, name));
    return { name, size: s.size, createdAt: s.mtimeMs };
  }

  /** Newest first. */
  async list(): Promise<BackupInfo[]> {
    if (!existsSync(this.#dir)) return [];
    const names = (await readdir(this.#dir)).filter((n) => NAME.test(n));
    const infos = await Promise.all(names.map((n) => this.#info(n)));
    return infos.sort((a, b) => b.createdAt - a.createdAt || b.name.localeCompare(a.name));
  }

  /** Deletes backups older than `days`; returns their names. */
  async cleanup(days: number, now = Date.now()): Promise<string[]> {
    const old = (await this.list()).filter((b) => now - b.createdAt > days * 86_400_000);
    await Promise.all(old.map((b) => rm(path.join(this.#dir, b.name), { force: true })));
    return old.map((b) => b.name);
  }

  /**
   * Replaces the database's content with a backup (a name in the backup folder or a path). The
   * current content is first saved as a `pictor-before-restore-…` backup. Stop the server first:
   * its queue and caches would not match the restored data.
   */
  async restore(fileOrName: string): Promise<{ restored: string; saved: BackupInfo }> {
    const file = existsSync(fileOrName)
      ? path.resolve(fileOrName)
      : path.join(this.#dir, fileOrName);
    if (!existsSync(file))
      throw new ProblemError('VALIDATION_FAILED', `file: no backup ${fileOrName}`, {
        field: 'file',
      });
    if (this.#target.driver === 'sqlite') {
      const source = new DatabaseSync(file, { readOnly: true });
      try {
        const migrated = source
          .prepare("select count(*) as n from sqlite_master where name = 'kysely_migration'")
          .get() as { n: number };
        if (Number(migrated.n) === 0)
          throw new ProblemError('VALIDATION_FAILED', `file: ${file} is not a Pictor database`, {
            field: 'file',
          });
        const saved = await this.create('before-restore-');
        await backup(source, this.#target.url);
        return { restored: file, saved };
      } finally {
        source.close();
      }
    }
    await tool('pg_restore');
    const saved = await this.create('before-restore-');
    const schema = this.#target.schema ? [`--schema=${this.#target.schema}`] : [];
    try {
      await run(
        'pg_restore',
        [
          '--clean',
          '--if-exists',
          '--no-owner',
          '--single-transaction',
          ...schema,
          `--dbname=${pgEnv(this.#target.url)['PGDATABASE'] ?? ''}`,
          file,
        ],
        { env: pgEnv(this.#target.url) },
      );
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
      throw new ProblemError(
        'BACKUP_UNAVAILABLE',
        `pg_restore failed: ${stderr || (error as Error).message}`,
      );
    }
    return { restored: file, saved };
  }
}
