import { ProblemError } from '../errors/index.ts';
import {
  KEY_PREFIX,
  generateSecret,
  hashSecret,
  newId,
  visiblePrefix,
  type ApiKey,
} from './api-key.ts';
import type { CreditStore, LedgerEntry } from './credit-store.ts';
import { MAX_CREDITS, type KeyFields } from './key-fields.ts';
import type { KeyPatch, KeyRepository } from './key-repository.ts';

export interface KeyDefaults {
  /** Requests per minute of a new key (0 = unlimited). */
  readonly rateLimit: number;
  /** Jobs in flight of a new key (0 = unlimited). */
  readonly maxJobs: number;
}

export interface CreateKeyOptions {
  /** The signed-up user the key belongs to. */
  readonly userId?: string;
  /** Use this secret instead of a random one (`PICTOR_ADMIN_KEY`). */
  readonly secret?: string;
}

/**
 * How long a key looked up by its secret is used without reading it again. Every authenticated
 * request looks its key up, and on an idle machine that read is the costliest step of accepting
 * a job (≈0.3 ms of the request's hot path). Changes made through this service take effect at
 * once (the cache is cleared); changes by another process (the CLI, another API node) within this.
 */
export const KEY_CACHE_MS = 1000;
/** Most keys remembered at once (each is a few hundred bytes). */
const KEY_CACHE_MAX = 10_000;

/**
 * Managing API keys: what the admin API, the CLI and signed-up users do. The secret exists only
 * in the return value of {@link create}; the store keeps its SHA-256.
 */
export class KeyService {
  readonly #keys: KeyRepository;
  readonly #credits: CreditStore;
  readonly #defaults: KeyDefaults;
  /** Keys found by secret hash, with when they were read; unknown secrets are not remembered. */
  readonly #bySecretHash = new Map<string, { key: ApiKey; readAt: number }>();
  /** Bumped by every change: a read that began before one is not remembered. */
  #changes = 0;

  constructor(keys: KeyRepository, credits: CreditStore, defaults: KeyDefaults) {
    this.#keys = keys;
    this.#credits = credits;
    this.#defaults = defaults;
  }

  async create(
    fields: KeyFields & { readonly name: string },
    options: CreateKeyOptions = {},
  ): Promise<{ key: ApiKey; secret: string }> {
    const secret = options.secret ?? generateSecret(KEY_PREFIX);
    const key: ApiKey = {
      id: newId('key'),
      name: fields.name,
      prefix: visiblePrefix(secret),
      scopes: fields.scopes ?? ['generate'],
      credits: fields.credits ?? 0,
      rateLimit: fields.rateLimit ?? this.#defaults.rateLimit,
      maxJobs: fields.maxJobs ?? this.#defaults.maxJobs,
      expiresAt: fields.expiresAt ?? null,
      active: true,
      priority: fields.priority ?? 0,
      userId: options.userId ?? null,
      createdAt: Date.now(),
    };
    await this.#keys.create(key, hashSecret(secret), 'initial credits');
    this.#changed();
    return { key, secret };
  }

  /** The key whose secret this is (active or not), if any. */
  async bySecret(secret: string): Promise<ApiKey | undefined> {
    const hash = hashSecret(secret);
    const now = Date.now();
    const cached = this.#bySecretHash.get(hash);
    if (cached && now - cached.readAt < KEY_CACHE_MS) return cached.key;
    const changes = this.#changes;
    const key = await this.#keys.getByHash(hash);
    if (this.#bySecretHash.size >= KEY_CACHE_MAX) this.#bySecretHash.clear();
    if (key && changes === this.#changes) this.#bySecretHash.set(hash, { key, readAt: now });
    else this.#bySecretHash.delete(hash);
    return key;
  }

  /** Forgets every remembered key (one changed). */
  #changed(): void {
    this.#changes++;
    this.#bySecretHash.clear();
  }

  async get(id: string): Promise<ApiKey> {
    const key = await this.#keys.get(id);
    if (!key) throw new ProblemError('KEY_NOT_FOUND', `no API key '${id}'`);
    return key;
  }

  list(options: { limit: number; offset?: number; userId?: string }): Promise<ApiKey[]> {
    return this.#keys.list(options);
  }

  count(options?: { userId?: string; activeOnly?: boolean }): Promise<number> {
    return this.#keys.count(options);
  }

  async update(id: string, patch: KeyPatch): Promise<ApiKey> {
    const key = await this.#keys.update(id, patch);
    this.#changed();
    if (!key) throw new ProblemError('KEY_NOT_FOUND', `no API key '${id}'`);
    return key;
  }

  /** Deactivates (keys are never deleted: the ledger and jobs refer to them). */
  deactivate(id: string): Promise<ApiKey> {
    return this.update(id, { active: false });
  }

  /** Adds credits (a `grant`) or, with a negative amount, removes them (an `adjustment`). */
  async addCredits(id: string, amount: number, reason: string): Promise<ApiKey> {
    if (!Number.isInteger(amount) || amount === 0 || Math.abs(amount) > MAX_CREDITS)
      throw new ProblemError(
        'VALIDATION_FAILED',
        `amount: a non-zero integer up to ${MAX_CREDITS} either way`,
        {
          field: 'amount',
        },
      );
    if (reason.trim() === '' || reason.length > 500)
      throw new ProblemError('VALIDATION_FAILED', 'reason: 1 to 500 characters', {
        field: 'reason',
      });
    const outcome = await this.#credits.adjust(
      id,
      amount,
      amount > 0 ? 'grant' : 'adjustment',
      reason.trim(),
    );
    this.#changed();
    if (!outcome.ok && outcome.reason === 'no-key')
      throw new ProblemError('KEY_NOT_FOUND', `no API key '${id}'`);
    if (!outcome.ok) {
      throw new ProblemError(
        'VALIDATION_FAILED',
        `amount: the key has ${outcome.balance} credits; removing ${-amount} would make it negative`,
        { field: 'amount', extensions: { balance: outcome.balance } },
      );
    }
    return this.get(id);
  }

  async ledger(id: string, limit: number): Promise<LedgerEntry[]> {
    await this.get(id);
    return this.#credits.entries(id, limit);
  }
}

/** The public JSON of a ledger entry. */
export function ledgerEntryView(e: LedgerEntry): Record<string, unknown> {
  return {
    id: e.id,
    kind: e.kind,
    amount: e.amount,
    balance_after: e.balanceAfter,
    reason: e.reason,
    job_id: e.jobId,
    created_at: new Date(e.createdAt).toISOString(),
  };
}
