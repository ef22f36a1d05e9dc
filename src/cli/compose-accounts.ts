import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { PictorConfig } from '../config/index.ts';
import { AccountLedger } from '../accounts/account-ledger.ts';
import type { AccountsApi } from '../accounts/accounts-api.ts';
import { createAuthenticator } from '../accounts/authenticator.ts';
import { bootstrapAdminKey } from '../accounts/bootstrap-admin-key.ts';
import { KeyService } from '../accounts/key-service.ts';
import { InProcessLimitCounters } from '../accounts/in-process/in-process-limit-counters.ts';
import type { LimitCounters } from '../accounts/limit-counters.ts';
import { RateLimiter } from '../accounts/rate-limiter.ts';
import { RedisLimitCounters } from '../accounts/redis/redis-limit-counters.ts';
import { SlotAdmission, type JobEventSource } from '../accounts/slot-admission.ts';
import { UserService } from '../accounts/user-service.ts';
import type { IdempotencyStore } from '../jobs/idempotency-store.ts';
import type { Caller } from '../jobs/job-service.ts';
import { IDEMPOTENCY_WINDOW_MS } from '../jobs/idempotent-submissions.ts';
import type { Job } from '../jobs/job.ts';
import { FreeLedger, type Ledger } from '../jobs/ledger.ts';
import { DatabaseBackups } from '../store/database-backups.ts';
import {
  KyselyCreditStore,
  KyselyIdempotencyStore,
  KyselyKeyRepository,
  KyselyUsageAnalytics,
  KyselyUserRepository,
  type Database,
} from '../store/index.ts';

/** Accounts wired to the database: the auth hook, the ledger, limits, and the admin services. */
export interface Accounts {
  readonly api: AccountsApi;
  readonly authenticate: (request: FastifyRequest, reply?: FastifyReply) => Promise<Caller>;
  readonly ledger: Ledger;
  /** The same ledger writing through `trx`, a transaction's handle (a job's transition). */
  readonly ledgerOn: (trx: Kysely<Database>) => Ledger;
  readonly admission: SlotAdmission | undefined;
  readonly idempotency: IdempotencyStore;
  /**
   * Before taking requests: refunds jobs charged but never settled (a crash between two writes)
   * and makes sure an admin key exists. Returns the secret of an admin key created just now.
   * `reconcile: false` skips the refunds: on a cluster's API node another node may be between
   * a job's charge and its insert, which would look unsettled.
   */
  start(options?: {
    readonly reconcile?: boolean;
  }): Promise<{ adminKey: string | undefined; reconciled: readonly string[] }>;
  stop(): void;
}

/**
 * Credits a job costs: `n` × the model's `cost` (its library sidecar, then `models.list`, then
 * `credits.costPerImage`).
 */
export function costFunction(
  config: PictorConfig,
  libraryCost?: (model: string) => number | undefined,
): (job: Job) => number {
  const costs = new Map(config.models.list.map((m) => [m.name, m.cost]));
  return (job) =>
    (libraryCost?.(job.model) ?? costs.get(job.model) ?? config.credits.costPerImage) *
    job.params.n;
}

/**
 * How long a job's in-flight slot outlives its node's last renewal (renewed every third of it):
 * how soon a dead API node's slots come back to their keys.
 */
const ADMISSION_LEASE_MS = 60_000;

/**
 * Rate-limit and in-flight counters every API node shares when `redis.url` is set, else this
 * process's own.
 */
function createLimitCounters(config: PictorConfig): LimitCounters {
  return config.redis.url === ''
    ? new InProcessLimitCounters()
    : new RedisLimitCounters({ url: config.redis.url, timeoutMs: config.redis.timeoutMs });
}

/** Builds the account services on `db` (also used by the CLI, with `events` absent). */
export function createAccounts(
  db: Kysely<Database>,
  config: PictorConfig,
  events: JobEventSource | undefined,
  options: {
    readonly databaseSchema?: string | undefined;
    /** A library model's own cost (its sidecar). */
    readonly modelCost?: (model: string) => number | undefined;
  } = {},
): Accounts {
  const auth = config.auth;
  const keyRepository = new KyselyKeyRepository(db);
  const credits = new KyselyCreditStore(db);
  const keys = new KeyService(keyRepository, credits, {
    rateLimit: auth.defaultRateLimit,
    maxJobs: auth.defaultMaxJobs,
  });
  const costOf = costFunction(config, options.modelCost);
  const accountLedger = new AccountLedger(keyRepository, credits, { costOf });
  const ledger = auth.enabled ? accountLedger : new FreeLedger();
  const ledgerOn = (trx: Kysely<Database>): Ledger =>
    auth.enabled
      ? new AccountLedger(new KyselyKeyRepository(trx), new KyselyCreditStore(trx), { costOf })
      : ledger;
  const userRepository = new KyselyUserRepository(db);
  const users =
    auth.signup && auth.enabled
      ? new UserService(userRepository, auth.sessionTtlSeconds * 1000)
      : undefined;
  const counters = createLimitCounters(config);
  const limiter = new RateLimiter(counters);
  const admission =
    auth.enabled && events
      ? new SlotAdmission(counters, events, { leaseMs: ADMISSION_LEASE_MS })
      : undefined;
  const idempotency = new KyselyIdempotencyStore(db);
  const backups = new DatabaseBackups(
    db,
    {
      driver: config.database.driver,
      url: config.database.url,
      schema: options.databaseSchema,
    },
    path.resolve(config.dataDir, config.backups.dir),
  );
  let timer: NodeJS.Timeout | undefined;
  return {
    api: {
      authEnabled: auth.enabled,
      keys,
      ledger,
      analytics: new KyselyUsageAnalytics(db),
      backups,
      admission,
      users,
      limiter,
      maxKeysPerUser: auth.maxKeysPerUser,
    },
    authenticate: createAuthenticator({ keys, users: users && userRepository, limiter }, auth),
    ledger,
    ledgerOn,
    admission,
    idempotency,
    async start({ reconcile = true } = {}) {
      const reconciled = auth.enabled && reconcile ? await accountLedger.reconcile() : [];
      const adminKey = auth.enabled ? await bootstrapAdminKey(keys, config.adminKey) : undefined;
      const purge = async (): Promise<void> => {
        const now = Date.now();
        await idempotency.purge(now - IDEMPOTENCY_WINDOW_MS);
        await userRepository.purgeSessions(now);
      };
      await purge();
      timer = setInterval(() => void purge().catch(() => undefined), 3600_000);
      timer.unref();
      return { adminKey, reconciled };
    },
    stop() {
      clearInterval(timer);
      admission?.stop();
      counters.close().catch(() => undefined);
    },
  };
}
