/** A signed-up end user (only when `auth.signup` is on). */
export interface User {
  readonly id: string;
  readonly username: string;
  /** `scrypt$N$r$p$salt$hash` (see `passwords.ts`). */
  readonly passwordHash: string;
  readonly createdAt: number;
}

/** A login: a short-lived token, stored as its SHA-256. */
export interface Session {
  readonly tokenHash: string;
  readonly userId: string;
  readonly expiresAt: number;
  readonly createdAt: number;
}

/** Persistence of users and their sessions. Implemented by `src/store/`. */
export interface UserRepository {
  /** False when the username is taken. */
  create(user: User): Promise<boolean>;
  get(id: string): Promise<User | undefined>;
  getByUsername(username: string): Promise<User | undefined>;
  createSession(session: Session): Promise<void>;
  /** The session if it exists and has not expired at `now`. */
  getSession(tokenHash: string, now: number): Promise<Session | undefined>;
  deleteSession(tokenHash: string): Promise<void>;
  /** Deletes sessions that expired before `now`. */
  purgeSessions(now: number): Promise<number>;
}
