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
}

export interface Database {
  jobs: JobsTable;
  uploads: UploadsTable;
  webhook_deliveries: WebhookDeliveriesTable;
}
