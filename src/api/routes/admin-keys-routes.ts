import type { FastifyInstance } from 'fastify';
import { jsonResponse } from '../documented-errors.ts';
import { keyResponse, keySchema, ledgerEntrySchema, listResponse } from '../admin-schemas.ts';
import type { AccountsApi } from '../../accounts/accounts-api.ts';
import { keyView, parseKeyFields, type KeyFieldsJson } from '../../accounts/key-fields.ts';
import { ledgerEntryView } from '../../accounts/key-service.ts';
import { decimalIntegers } from '../decimal-numbers.ts';

const idParams = {
  type: 'object',
  properties: { id: { type: 'string' } },
  required: ['id'],
} as const;

/** The snake_case key fields, as in the CLI flags; ranges are checked by `parseKeyFields`. */
const keyFieldsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', description: 'A label, 1 to 100 characters' },
    credits: { type: 'integer', description: 'Initial credits (creation only)' },
    rate_limit: { type: 'integer', description: 'Requests per minute; 0 = unlimited' },
    max_jobs: { type: 'integer', description: 'Jobs queued or running at once; 0 = unlimited' },
    expires_at: {
      type: ['string', 'null'],
      description: 'ISO 8601 time, a duration like 30d, or null for never',
    },
    scopes: { type: 'array', items: { type: 'string', enum: ['generate', 'admin'] } },
    priority: { type: 'integer', description: 'Highest job priority the key may ask for' },
    active: { type: 'boolean', description: 'Update only' },
  },
} as const;

/** With a key's view, how many of its jobs are queued or running. */
async function withInFlight(
  accounts: AccountsApi,
  view: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const id = view['id'] as string;
  return { ...view, jobs_in_flight: (await accounts.admission?.count(id)) ?? null };
}

/** `/v1/admin/keys`: create, list, show, update and deactivate keys; grant credits. */
export function adminKeysRoutes(app: FastifyInstance, accounts: AccountsApi): void {
  const { keys } = accounts;
  const tags = ['admin'];

  app.get<{ Querystring: { limit?: number; offset?: number } }>(
    '/v1/admin/keys',
    {
      schema: {
        tags,
        summary: 'Every API key (never the secrets), oldest first',
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
            offset: { type: 'integer', minimum: 0 },
          },
        },
        response: {
          200: listResponse('A page of keys', keySchema, {
            next_offset: {
              type: ['integer', 'null'],
              description: 'Pass as offset for the next page',
            },
          }),
        },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 100;
      const offset = request.query.offset ?? 0;
      const page = await keys.list({ limit: limit + 1, offset });
      return {
        data: await Promise.all(
          page.slice(0, limit).map((k) => withInFlight(accounts, keyView(k))),
        ),
        next_offset: page.length > limit ? offset + limit : null,
      };
    },
  );

  app.post<{ Body: KeyFieldsJson }>(
    '/v1/admin/keys',
    {
      schema: {
        tags,
        summary: 'Create a key; the secret (`key`) is in this response only',
        body: { ...keyFieldsSchema, required: ['name'] },
        response: { 201: jsonResponse('Created; `key` is the secret, shown this once', keySchema) },
      },
    },
    async (request, reply) => {
      const fields = parseKeyFields(request.body, 'create');
      const { key, secret } = await keys.create({ ...fields, name: fields.name ?? '' });
      return reply
        .status(201)
        .header('location', `/v1/admin/keys/${key.id}`)
        .send({ ...keyView(key), key: secret });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/admin/keys/:id',
    { schema: { tags, summary: 'One key', params: idParams, response: { 200: keyResponse } } },
    async (request) => withInFlight(accounts, keyView(await keys.get(request.params.id))),
  );

  app.put<{ Params: { id: string }; Body: KeyFieldsJson }>(
    '/v1/admin/keys/:id',
    {
      schema: {
        tags,
        summary: 'Change a key (credits change through /credits)',
        params: idParams,
        body: keyFieldsSchema,
        response: { 200: keyResponse },
      },
    },
    async (request) => {
      const patch = parseKeyFields(request.body, 'update');
      return keyView(await keys.update(request.params.id, patch));
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/admin/keys/:id',
    {
      schema: {
        tags,
        summary: 'Deactivate a key (kept for the ledger)',
        params: idParams,
        response: { 200: keyResponse },
      },
    },
    async (request) => keyView(await keys.deactivate(request.params.id)),
  );

  app.post<{ Params: { id: string }; Body: { amount: number; reason: string } }>(
    '/v1/admin/keys/:id/credits',
    {
      schema: {
        tags,
        summary: 'Add credits (a grant) or remove them (negative: an adjustment)',
        params: idParams,
        body: {
          type: 'object',
          required: ['amount', 'reason'],
          additionalProperties: false,
          properties: { amount: { type: 'integer' }, reason: { type: 'string' } },
        },
        response: { 200: keyResponse },
      },
      preValidation: decimalIntegers('body', ['amount']),
    },
    async (request) => {
      const { amount, reason } = request.body;
      return keyView(await keys.addCredits(request.params.id, amount, reason));
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit?: number } }>(
    '/v1/admin/keys/:id/ledger',
    {
      schema: {
        tags,
        summary: "A key's credit ledger, newest first",
        params: idParams,
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } },
        },
        response: { 200: listResponse('Ledger entries, newest first', ledgerEntrySchema) },
      },
    },
    async (request) => ({
      data: (await keys.ledger(request.params.id, request.query.limit ?? 100)).map(ledgerEntryView),
    }),
  );
}
