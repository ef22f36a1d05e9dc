import type { Kysely } from 'kysely';
import type { Session, User, UserRepository } from '../accounts/user-repository.ts';
import type { Database } from './database-schema.ts';
import { isUniqueViolation } from './write-transaction.ts';

/** {@link UserRepository} on Kysely (SQLite and PostgreSQL). */
export class KyselyUserRepository implements UserRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async create(user: User): Promise<boolean> {
    try {
      await this.#db
        .insertInto('users')
        .values({
          id: user.id,
          username: user.username,
          password_hash: user.passwordHash,
          created_at: user.createdAt,
        })
        .execute();
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async #user(column: 'id' | 'username', value: string): Promise<User | undefined> {
    const row = await this.#db
      .selectFrom('users')
      .selectAll()
      .where(column, '=', value)
      .executeTakeFirst();
    return (
      row && {
        id: row.id,
        username: row.username,
        passwordHash: row.password_hash,
        createdAt: Number(row.created_at),
      }
    );
  }

  get(id: string): Promise<User | undefined> {
    return this.#user('id', id);
  }

  getByUsername(username: string): Promise<User | undefined> {
    return this.#user('username', username);
  }

  async createSession(session: Session): Promise<void> {
    await this.#db
      .insertInto('sessions')
      .values({
        token_hash: session.tokenHash,
        user_id: session.userId,
        expires_at: session.expiresAt,
        created_at: session.createdAt,
      })
      .execute();
  }

  async getSession(tokenHash: string, now: number): Promise<Session | undefined> {
    const row = await this.#db
      .selectFrom('sessions')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return (
      row && {
        tokenHash: row.token_hash,
        userId: row.user_id,
        expiresAt: Number(row.expires_at),
        createdAt: Number(row.created_at),
      }
    );
  }

  async deleteSession(tokenHash: string): Promise<void> {
    await this.#db.deleteFrom('sessions').where('token_hash', '=', tokenHash).execute();
  }

  async purgeSessions(now: number): Promise<number> {
    const result = await this.#db
      .deleteFrom('sessions')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
