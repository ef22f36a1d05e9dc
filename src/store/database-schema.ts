import type { Generated } from 'kysely';

/** Row types as Kysely sees them. Times are epoch milliseconds stored as doubles. */
export interface JobsTable {
  id: string;
  owner: string;
  status: string;
  priority: number;
  model: string;
  params: string;
  batch_key: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  attempts: number;
  error_code: string | null;
  error_message: string | null;
  result: string | null;
  webhook_url: string | null;
  credits_used: number | null;
  result_expires_at: number | null;
  result_deleted: number;
}

export interface UploadsTable {
  id: string;
  owner: string;
  key: string;
  mime_type: string;
  size: number;
  created_at: number;
  expires_at: number;
}

export interface WebhookDeliveriesTable {
  id: string;
  job_id: string;
  url: string;
  event_type: string;
  payload: string;
  attempts: number;
  next_attempt_at: number;
  status: string;
  last_error: string | null;
  created_at: number;
  seq: Generated<number>;
  /** The sender whose attempt is under way (migration 0003); null when none is. */
  claimed_by: string | null;
}

/** An API key; only the SHA-256 of the secret is stored. `credits` is guarded by a CHECK. */
export interface ApiKeysTable {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  /** Comma-separated scopes. */
  scopes: string;
  credits: number;
  rate_limit: number;
  max_jobs: number;
  expires_at: number | null;
  active: number;
  priority: number;
  user_id: string | null;
  created_at: number;
}

/** Append-only; UNIQUE (job_id, kind) makes a job's charge and refund happen at most once. */
export interface CreditLedgerTable {
  id: string;
  key_id: string;
  kind: string;
  amount: number;
  balance_after: number;
  reason: string;
  job_id: string | null;
  created_at: number;
}

export interface IdempotencyKeysTable {
  owner: string;
  key: string;
  fingerprint: string;
  job_id: string;
  created_at: number;
}

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  created_at: number;
}

export interface SessionsTable {
  token_hash: string;
  user_id: string;
  expires_at: number;
  created_at: number;
}

export interface Database {
  jobs: JobsTable;
  uploads: UploadsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  api_keys: ApiKeysTable;
  credit_ledger: CreditLedgerTable;
  idempotency_keys: IdempotencyKeysTable;
  users: UsersTable;
  sessions: SessionsTable;
}
