import type { FastifyInstance } from 'fastify';
import { jsonResponse } from '../documented-errors.ts';
import { ledgerEntrySchema, listResponse, openObject, usageRowSchema } from '../admin-schemas.ts';
import type { AccountsApi } from '../../accounts/accounts-api.ts';
import { ledgerEntryView } from '../../accounts/key-service.ts';
import {
  parseRange,
  rangeQuerySchema,
  usageView,
  type RangeQuery,
} from './admin-reports-routes.ts';

/** `/v1/account/*` for any valid key: its balance and its usage. */
export function accountRoutes(app: FastifyInstance, accounts: AccountsApi): void {
  const tags = ['account'];

  app.get(
    '/v1/account/balance',
    {
      schema: {
        tags,
        summary: "The calling key's credits and limits",
        response: {
          200: jsonResponse(
            'Credits and limits',
            openObject(
              {
                credits: { type: ['integer', 'null'], description: 'null: unmetered' },
                metered: { type: 'boolean' },
                key_id: { type: 'string' },
                name: { type: ['string', 'null'] },
                prefix: { type: ['string', 'null'] },
                scopes: { type: 'array', items: { type: 'string' } },
                rate_limit: { type: 'integer' },
                max_jobs: { type: 'integer' },
                jobs_in_flight: { type: ['integer', 'null'] },
                priority: { type: 'integer' },
                expires_at: { type: ['string', 'null'], format: 'date-time' },
              },
              ['credits', 'metered', 'key_id'],
            ),
          ),
        },
      },
    },
    async (request) => {
      const owner = request.caller.owner;
      const key = accounts.authEnabled ? await accounts.keys.get(owner) : undefined;
      const credits = await accounts.ledger.balance(owner);
      return {
        credits,
        metered: credits !== null,
        key_id: owner,
        name: key?.name ?? null,
        prefix: key?.prefix ?? null,
        scopes: key?.scopes ?? request.caller.scopes ?? [],
        rate_limit: key?.rateLimit ?? 0,
        max_jobs: key?.maxJobs ?? 0,
        jobs_in_flight: (await accounts.admission?.count(owner)) ?? null,
        priority: key?.priority ?? request.caller.maxPriority,
        expires_at:
          key?.expiresAt === null || key === undefined
            ? null
            : new Date(key.expiresAt).toISOString(),
      };
    },
  );

  app.get<{ Querystring: RangeQuery & { ledger_limit?: number } }>(
    '/v1/account/usage',
    {
      schema: {
        tags,
        summary: "The calling key's usage per model and UTC day, and its latest ledger entries",
        querystring: {
          type: 'object',
          properties: {
            ...rangeQuerySchema,
            ledger_limit: { type: 'integer', minimum: 0, maximum: 1000 },
          },
        },
        response: {
          200: listResponse('Usage rows and ledger entries', usageRowSchema, {
            key_id: { type: 'string' },
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
            ledger: { type: 'array', items: ledgerEntrySchema },
          }),
        },
      },
    },
    async (request) => {
      const owner = request.caller.owner;
      const { from, to } = parseRange(request.query);
      const rows = await accounts.analytics.usage({ from, to, keyId: owner });
      const limit = request.query.ledger_limit ?? 50;
      const ledger =
        accounts.authEnabled && limit > 0 ? await accounts.keys.ledger(owner, limit) : [];
      return {
        key_id: owner,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        data: rows.map(usageView),
        ledger: ledger.map(ledgerEntryView),
      };
    },
  );
}
