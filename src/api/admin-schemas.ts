import { jsonResponse, type JsonSchema, type ResponseDoc } from './documented-errors.ts';

/**
 * Response bodies of the admin and account routes: keys (`keyView`), ledger entries, usage rows,
 * backups, library models and pulls. Open objects: they document, they do not filter.
 */
const open = (properties: JsonSchema, required: readonly string[] = []): JsonSchema => ({
  type: 'object',
  additionalProperties: true,
  ...(required.length > 0 ? { required } : {}),
  properties,
});

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const time = { type: 'string', format: 'date-time' } as const;

/** An API key as `keyView` shows it (never its secret, except `key` once at creation). */
export const keySchema = open(
  {
    id: str,
    name: str,
    prefix: str,
    scopes: { type: 'array', items: { type: 'string', enum: ['generate', 'admin'] } },
    credits: { type: ['integer', 'null'], description: 'null: unmetered' },
    rate_limit: int,
    max_jobs: int,
    expires_at: { ...nullableStr, format: 'date-time' },
    active: { type: 'boolean' },
    priority: int,
    user_id: nullableStr,
    created_at: time,
    jobs_in_flight: { type: ['integer', 'null'] },
    key: { type: 'string', description: 'The secret: in the creation response only' },
  },
  ['id', 'name', 'prefix', 'scopes', 'active'],
);

export const ledgerEntrySchema = open({
  id: { type: ['integer', 'string'] },
  kind: str,
  amount: int,
  balance_after: { type: ['integer', 'null'] },
  reason: nullableStr,
  job_id: nullableStr,
  created_at: time,
});

export const usageRowSchema = open({
  key_id: str,
  key_name: nullableStr,
  model: str,
  day: str,
  jobs: int,
  images: int,
  credits: { type: 'number' },
  failures: int,
  mean_generation_time: { type: ['number', 'null'] },
});

export const backupSchema = open({ name: str, size: int, created_at: time }, ['name']);

export const libraryModelSchema = open({
  name: str,
  format: str,
  source: nullableStr,
  family_hint: nullableStr,
  size_bytes: { type: 'number' },
  path: str,
  removable: { type: 'boolean' },
});

export const pullSchema = open(
  {
    pull_id: str,
    source: str,
    model: nullableStr,
    state: str,
    total: { type: ['number', 'null'] },
    completed: { type: 'number' },
    error: nullableStr,
    events_url: { type: 'string', description: 'Server-Sent Events of the pull' },
  },
  ['pull_id', 'state'],
);

/** `{ data: [item…], …more }`: the list responses. */
export function listResponse(
  description: string,
  item: JsonSchema,
  more: JsonSchema = {},
): ResponseDoc {
  return jsonResponse(
    description,
    open({ data: { type: 'array', items: item }, ...more }, ['data']),
  );
}

export const keyResponse = jsonResponse('The key', keySchema);

export { open as openObject };
