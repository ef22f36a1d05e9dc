import { ProblemError } from '../errors/index.ts';
import { SCOPES, type ApiKey, type Scope } from './api-key.ts';
import type { KeyPatch } from './key-repository.ts';

/** The snake_case fields of a key in the API and the CLI (`--rate-limit` is `rate_limit`). */
export interface KeyFieldsJson {
  readonly name?: unknown;
  readonly credits?: unknown;
  readonly rate_limit?: unknown;
  readonly max_jobs?: unknown;
  readonly expires_at?: unknown;
  readonly scopes?: unknown;
  readonly priority?: unknown;
  readonly active?: unknown;
}

/** Validated fields; absent ones are left as they are (or take the defaults on creation). */
export interface KeyFields extends KeyPatch {
  readonly credits?: number;
}

export const MAX_CREDITS = 1_000_000_000;
export const MAX_PRIORITY = 10;
/** The last moment ISO 8601 (and so the API) can write: 9999-12-31T23:59:59.999Z. */
const MAX_EXPIRY = 253_402_300_799_999;

function invalid(field: string, message: string): ProblemError {
  return new ProblemError('VALIDATION_FAILED', `${field}: ${message}`, { field });
}

function integer(field: string, value: unknown, min: number, max: number): number {
  const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    throw invalid(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

/** ISO 8601 (`2026-01-31`, `2026-01-31T12:00:00Z`), a duration from now (`30d`, `12h`, `90m`), or null. */
export function parseExpiry(value: unknown, now = Date.now()): number | null {
  if (value === null || value === 'never' || value === '') return null;
  if (typeof value !== 'string') throw invalid('expires_at', 'must be an ISO 8601 time or null');
  const relative = /^(\d{1,9})([dhm])$/.exec(value.trim());
  let ms: number;
  if (relative) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2] as 'd' | 'h' | 'm'];
    ms = now + Number(relative[1]) * unit;
  } else {
    ms = Date.parse(value);
    if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms))
      throw invalid(
        'expires_at',
        `must be an ISO 8601 time, a duration like 30d, or null; got ${JSON.stringify(value)}`,
      );
  }
  // Checked before storing: a time past year 9999 cannot be shown as ISO 8601 again.
  if (ms > MAX_EXPIRY)
    throw invalid('expires_at', `must be before the year 10000, got ${JSON.stringify(value)}`);
  return ms;
}

function scopes(value: unknown): Scope[] {
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((s) => !SCOPES.includes(s as Scope)))
    throw invalid('scopes', `must be a non-empty list of ${SCOPES.join(', ')}`);
  return [...new Set(list as Scope[])].sort((a, b) => SCOPES.indexOf(a) - SCOPES.indexOf(b));
}

const KNOWN = new Set([
  'name',
  'credits',
  'rate_limit',
  'max_jobs',
  'expires_at',
  'scopes',
  'priority',
  'active',
]);

/**
 * Validates key fields from JSON or CLI flags. `create` requires a name and refuses `active`;
 * `update` refuses `credits` (credits change only through the ledger, with a reason).
 */
export function parseKeyFields(json: KeyFieldsJson, mode: 'create' | 'update'): KeyFields {
  for (const field of Object.keys(json)) {
    if (!KNOWN.has(field)) throw invalid(field, 'unknown field');
  }
  const out: { -readonly [K in keyof KeyFields]: KeyFields[K] } = {};
  if (json.name !== undefined) {
    if (typeof json.name !== 'string' || json.name.trim() === '' || json.name.length > 100)
      throw invalid('name', 'must be 1 to 100 characters');
    out.name = json.name.trim();
  } else if (mode === 'create') {
    throw invalid('name', 'is required');
  }
  if (json.credits !== undefined) {
    if (mode === 'update')
      throw invalid(
        'credits',
        'change credits with POST /v1/admin/keys/{id}/credits (keys add-credits), which records a reason',
      );
    out.credits = integer('credits', json.credits, 0, MAX_CREDITS);
  }
  if (json.rate_limit !== undefined)
    out.rateLimit = integer('rate_limit', json.rate_limit, 0, 1_000_000);
  if (json.max_jobs !== undefined) out.maxJobs = integer('max_jobs', json.max_jobs, 0, 1_000_000);
  if (json.priority !== undefined)
    out.priority = integer('priority', json.priority, 0, MAX_PRIORITY);
  if (json.expires_at !== undefined) out.expiresAt = parseExpiry(json.expires_at);
  if (json.scopes !== undefined) out.scopes = scopes(json.scopes);
  if (json.active !== undefined) {
    if (mode === 'create') throw invalid('active', 'a new key is active');
    const active = json.active === 'true' ? true : json.active === 'false' ? false : json.active;
    if (typeof active !== 'boolean') throw invalid('active', 'must be true or false');
    out.active = active;
  }
  return out;
}

/** The public JSON of a key (never its secret or hash). */
export function keyView(key: ApiKey): Record<string, unknown> {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    scopes: key.scopes,
    credits: key.credits,
    rate_limit: key.rateLimit,
    max_jobs: key.maxJobs,
    expires_at: key.expiresAt === null ? null : new Date(key.expiresAt).toISOString(),
    active: key.active,
    priority: key.priority,
    user_id: key.userId,
    created_at: new Date(key.createdAt).toISOString(),
  };
}
