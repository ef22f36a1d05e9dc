import { problemResponses } from './problem-schema.ts';

/** An OpenAPI operation as this file writes it. */
type Operation = Record<string, unknown>;

const socket = (summary: string, tag: string, message: object): Operation => ({
  tags: [tag],
  summary,
  description:
    'A WebSocket: connect with an HTTP GET carrying `Upgrade: websocket`. Each message is described below.',
  responses: {
    101: {
      description: 'Switching Protocols: the socket is open; each message is JSON',
      content: { 'application/json': { schema: message } },
    },
    401: { description: 'No valid key' },
  },
});

const JOB_EVENT = {
  type: 'object',
  properties: {
    id: { type: 'integer', description: "The event's sequence number (the SSE event id)" },
    job_id: { type: 'string' },
    type: {
      type: 'string',
      enum: [
        'queued',
        'pulling',
        'started',
        'progress',
        'completed',
        'failed',
        'cancelled',
        'expired',
      ],
    },
    data: { type: 'object', additionalProperties: true, description: 'As the job events stream' },
  },
} as const;

const IRGOLIC_EVENT = {
  type: 'string',
  description:
    'A JSON string holding the event JSON, as irgolic sends it: {event_type: pending | started | finished | aborted, task_id, result?: {blob_url, parameters_used}, reason?}',
} as const;

/**
 * Routes the document cannot learn from their schemas: WebSocket routes (`@fastify/websocket`
 * hides them) and the Prometheus text of `/metrics`. Added to the generated document.
 */
export function withExtraPaths<T extends { paths?: object }>(
  document: T,
  present: { readonly metrics: boolean; readonly irgolicEvents: boolean },
): T {
  const paths: Record<string, Record<string, Operation>> = { ...document.paths };
  paths['/v1/events'] = {
    get: socket("Every event of the caller's jobs", 'jobs', JOB_EVENT),
  };
  if (present.irgolicEvents)
    paths['/events'] = {
      get: {
        ...socket(
          "The caller's task events (?token= a key or a public token)",
          'stable-diffusion-api',
          IRGOLIC_EVENT,
        ),
        parameters: [{ name: 'token', in: 'query', schema: { type: 'string' } }],
      },
    };
  if (present.metrics)
    paths['/metrics'] = {
      get: {
        tags: ['health'],
        summary: 'Prometheus metrics (text exposition format)',
        responses: {
          200: {
            description: 'Queue depth, jobs, step times, requests, workers',
            content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } },
          },
          // Without `metrics.public` it needs an admin key: refusals are problem+json.
          '4XX': problemResponses['4xx'],
        },
      },
    };
  return { ...document, paths };
}
