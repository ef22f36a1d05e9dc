import { ProblemError } from '../errors/index.ts';
import { SESSION_PREFIX, generateSecret, hashSecret, newId } from './api-key.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import type { User, UserRepository } from './user-repository.ts';

const USERNAME = /^[A-Za-z0-9._@-]{3,64}$/;

/** End-user sign-up and login (config-gated): scrypt passwords, short-lived login tokens. */
export class UserService {
  readonly #users: UserRepository;
  readonly #sessionTtlMs: number;
  #dummyHash: Promise<string> | undefined;

  constructor(users: UserRepository, sessionTtlMs: number) {
    this.#users = users;
    this.#sessionTtlMs = sessionTtlMs;
  }

  async signup(username: unknown, password: unknown): Promise<User> {
    if (typeof username !== 'string' || !USERNAME.test(username))
      throw new ProblemError(
        'VALIDATION_FAILED',
        "username: 3 to 64 letters, digits, '.', '_', '@' or '-'",
        { field: 'username' },
      );
    if (typeof password !== 'string' || password.length < 10 || password.length > 1024)
      throw new ProblemError('VALIDATION_FAILED', 'password: 10 to 1024 characters', {
        field: 'password',
      });
    const user: User = {
      id: newId('usr'),
      username,
      passwordHash: await hashPassword(password),
      createdAt: Date.now(),
    };
    if (!(await this.#users.create(user)))
      throw new ProblemError('USERNAME_TAKEN', `the username '${username}' is taken`, {
        field: 'username',
      });
    return user;
  }

  /** The user with this name and password; `UNAUTHORIZED` for a wrong name or password. */
  async verify(username: unknown, password: unknown): Promise<User> {
    const user =
      typeof username === 'string' ? await this.#users.getByUsername(username) : undefined;
    // Hash even for an unknown user, so timing does not tell which usernames exist.
    this.#dummyHash ??= hashPassword('not a password of anyone');
    const stored = user?.passwordHash ?? (await this.#dummyHash);
    const ok = await verifyPassword(typeof password === 'string' ? password : '', stored);
    if (!user || !ok) throw new ProblemError('UNAUTHORIZED', 'wrong username or password');
    return user;
  }

  /** A login token valid for the session TTL; `UNAUTHORIZED` for a wrong name or password. */
  async login(username: unknown, password: unknown): Promise<{ token: string; expiresAt: number }> {
    const user = await this.verify(username, password);
    const token = generateSecret(SESSION_PREFIX);
    const now = Date.now();
    const expiresAt = now + this.#sessionTtlMs;
    await this.#users.createSession({
      tokenHash: hashSecret(token),
      userId: user.id,
      expiresAt,
      createdAt: now,
    });
    await this.#users.purgeSessions(now);
    return { token, expiresAt };
  }

  async logout(token: string): Promise<void> {
    await this.#users.deleteSession(hashSecret(token));
  }

  async get(id: string): Promise<User | undefined> {
    return this.#users.get(id);
  }
}
