/**
 * Every error the `/v1` API can answer with. A code is part of the public contract: its HTTP
 * status and `type` URI never change (add codes, never rename). `docs/errors.md` documents each
 * one and a test keeps the two in agreement.
 */
export const ERROR_CATALOG = {
  BAD_REQUEST: { status: 400, title: 'The request is malformed' },
  VALIDATION_FAILED: { status: 422, title: 'A parameter is missing or out of range' },
  INVALID_IMAGE: { status: 422, title: 'An input image could not be decoded' },
  UNAUTHORIZED: { status: 401, title: 'Authentication is required' },
  FORBIDDEN: { status: 403, title: 'The caller may not do this' },
  NOT_FOUND: { status: 404, title: 'No such route' },
  JOB_NOT_FOUND: { status: 404, title: 'No such job' },
  MODEL_NOT_FOUND: { status: 404, title: 'No such model' },
  UPLOAD_NOT_FOUND: { status: 404, title: 'No such upload' },
  RESULT_NOT_READY: { status: 409, title: 'The job has no result yet' },
  JOB_NOT_CANCELLABLE: { status: 409, title: 'The job already finished' },
  RESULT_GONE: { status: 410, title: 'The result expired or was deleted' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The content type is not supported' },
  WEBHOOK_URL_REFUSED: { status: 422, title: 'The webhook URL is not allowed' },
  QUEUE_FULL: { status: 429, title: 'The queue is full' },
  GENERATION_FAILED: { status: 500, title: 'The generation failed' },
  JOB_CANCELLED: { status: 409, title: 'The job was cancelled' },
  JOB_EXPIRED: { status: 410, title: 'The job expired before it ran' },
  INTERNAL: { status: 500, title: 'Internal server error' },
  MODEL_UNAVAILABLE: { status: 503, title: 'The model is not loaded' },
  SHUTTING_DOWN: { status: 503, title: 'The server is shutting down' },
  DATABASE_UNAVAILABLE: { status: 503, title: 'The database cannot be reached right now' },
  QUEUE_UNAVAILABLE: { status: 503, title: 'The job queue (Redis) cannot be reached right now' },
  INSUFFICIENT_CREDITS: { status: 402, title: 'The key has too few credits for this request' },
  RATE_LIMITED: { status: 429, title: 'Too many requests for this key' },
  TOO_MANY_JOBS: { status: 429, title: 'The key has too many jobs queued or running' },
  IDEMPOTENCY_MISMATCH: {
    status: 422,
    title: 'The Idempotency-Key was used with a different request',
  },
  KEY_NOT_FOUND: { status: 404, title: 'No such API key' },
  USERNAME_TAKEN: { status: 409, title: 'The username is taken' },
  BACKUP_UNAVAILABLE: { status: 501, title: 'Backups are not available for this database' },
  MODEL_SOURCE_INVALID: { status: 422, title: 'The model source is not understood' },
  MODEL_SOURCE_UNAUTHORIZED: { status: 502, title: 'The model source refused the download' },
  MODEL_SOURCE_NOT_FOUND: { status: 404, title: 'The model source has no such model' },
  MODEL_DOWNLOAD_FAILED: { status: 502, title: 'The model download failed' },
  MODEL_HASH_MISMATCH: { status: 502, title: 'A downloaded file did not match its hash' },
  INSUFFICIENT_STORAGE: { status: 507, title: 'Not enough disk space' },
  UPLOAD_QUOTA_EXCEEDED: { status: 507, title: "The key's uploads would exceed its storage quota" },
  IMAGE_TOO_LARGE: { status: 413, title: 'An input image has more pixels than allowed' },
  MODEL_IN_USE: { status: 409, title: 'Jobs are queued or running on the model' },
  PULL_NOT_FOUND: { status: 404, title: 'No such model pull' },
  PULL_CANCELLED: { status: 409, title: 'The model pull was cancelled' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Base of every problem `type` URI; the fragment-free path names the code. */
export const PROBLEM_TYPE_BASE = 'https://pictor.dev/problems/';

/** `QUEUE_FULL` → `https://pictor.dev/problems/queue-full`. */
export function problemType(code: ErrorCode): string {
  return `${PROBLEM_TYPE_BASE}${code.toLowerCase().replaceAll('_', '-')}`;
}
