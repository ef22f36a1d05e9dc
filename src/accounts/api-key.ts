import { createHash, randomBytes } from 'node:crypto';

/** What a key may do: `generate` (the jobs API) and `admin` (keys, credits, analytics, backups). */
export type Scope = 'generate' | 'admin';

export const SCOPES: readonly Scope[] = ['generate', 'admin'];

/** An API key as stored, without its secret (only a SHA-256 of it is kept). */
export interface ApiKey {
  readonly id: string;
  readonly name: string;
  /** The first characters of the secret, to recognise a key in lists. */
  readonly prefix: string;
  readonly scopes: readonly Scope[];
  readonly credits: number;
  /** Requests per minute; 0 = unlimited. */
  readonly rateLimit: number;
  /** Jobs queued or running at once; 0 = unlimited. */
  readonly maxJobs: number;
  /** Epoch ms after which the key is refused; null = never. */
  readonly expiresAt: number | null;
  readonly active: boolean;
  /** Highest job priority the key may ask for (0 = none). */
  readonly priority: number;
  /** The signed-up user who owns the key, if any. */
  readonly userId: string | null;
  readonly createdAt: number;
}

/** Secrets start with this; login tokens with {@link SESSION_PREFIX}. */
export const KEY_PREFIX = 'sk_';
export const SESSION_PREFIX = 'ut_';
/**
 * Public tokens (irgolic's `POST /token/all`) start with this: they name a public session, not a
 * key, and on key-less routes count as no key at all.
 */
export const PUBLIC_TOKEN_PREFIX = 'pub_';

/** A new secret: `sk_` + 256 random bits, base64url. */
export function generateSecret(prefix = KEY_PREFIX): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/** SHA-256 (hex): right for high-entropy secrets, which cannot be guessed from their hash. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The visible part of a secret: `sk_` and 6 more characters. */
export function visiblePrefix(secret: string): string {
  return secret.slice(0, 9);
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

/** Why a key may not be used now, or undefined when it may. */
export function keyRefusal(key: ApiKey, now: number): string | undefined {
  if (!key.active) return 'the API key was deactivated';
  if (key.expiresAt !== null && key.expiresAt <= now) {
    return `the API key expired at ${new Date(key.expiresAt).toISOString()}`;
  }
  return undefined;
}
