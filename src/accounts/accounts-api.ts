import type { DatabaseBackups } from '../store/database-backups.ts';
import type { Admission } from '../jobs/admission.ts';
import type { KeyService } from './key-service.ts';
import type { Ledger } from '../jobs/ledger.ts';
import type { RateLimiter } from './rate-limiter.ts';
import type { UsageAnalytics } from './usage-analytics.ts';
import type { UserService } from './user-service.ts';

/** What the admin and account routes need; built by the composition root. */
export interface AccountsApi {
  readonly authEnabled: boolean;
  readonly keys: KeyService;
  readonly ledger: Ledger;
  readonly analytics: UsageAnalytics;
  readonly backups: DatabaseBackups;
  /** Jobs in flight per owner; absent when auth is off. */
  readonly admission: Admission | undefined;
  /** Sign-up and login; absent unless `auth.signup` is on. */
  readonly users: UserService | undefined;
  /** Limits login attempts per client address. */
  readonly limiter: RateLimiter;
  readonly maxKeysPerUser: number;
}
