import type { ResponseDoc } from './documented-errors.ts';

/** RFC 9457 problem details as Pictor writes them (`src/errors/problem-error.ts`). */
export const problemSchema = {
  type: 'object',
  description: 'RFC 9457 problem details; `code` is one of docs/errors.md',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', description: 'A URI naming the error (its docs/errors.md entry)' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string', description: 'What went wrong, for a person' },
    code: { type: 'string', description: 'The stable error code' },
    instance: { type: 'string', description: 'The request path' },
    field: { type: 'string', description: 'The request field at fault' },
  },
  additionalProperties: true,
} as const;

const problem = (description: string): ResponseDoc => ({
  description,
  content: { 'application/problem+json': { schema: problemSchema } },
});

/** The error responses of the native API (`/v1`, `/health`, admin and account routes). */
export const problemResponses: Readonly<Record<string, ResponseDoc>> = {
  '4xx': problem('The request was refused (see docs/errors.md)'),
  '5xx': problem('The server could not answer (see docs/errors.md)'),
};
