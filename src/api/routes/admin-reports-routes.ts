import type { FastifyInstance } from 'fastify';
import { jsonResponse } from '../documented-errors.ts';
import { backupSchema, listResponse, usageRowSchema } from '../admin-schemas.ts';
import type { AccountsApi } from '../../accounts/accounts-api.ts';
import type { UsageRow } from '../../accounts/usage-analytics.ts';
import { ProblemError } from '../../errors/index.ts';
import type { BackupInfo } from '../../store/database-backups.ts';

export interface RangeQuery {
  from?: string;
  to?: string;
}

export const rangeQuerySchema = {
  from: {
    type: 'string',
    description: 'ISO 8601 date or time (inclusive); 30 days ago by default',
  },
  to: { type: 'string', description: 'ISO 8601 date or time (exclusive); now by default' },
} as const;

/** Parses `from` / `to`; a bare date `to` includes that whole day. */
export function parseRange(q: RangeQuery, now = Date.now()): { from: number; to: number } {
  const parse = (field: 'from' | 'to', value: string | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    const ms = Date.parse(value);
    if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms))
      throw new ProblemError('VALIDATION_FAILED', `${field}: not an ISO 8601 date or time`, {
        field,
      });
    return field === 'to' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? ms + 86_400_000 : ms;
  };
  return { from: parse('from', q.from, now - 30 * 86_400_000), to: parse('to', q.to, now + 1) };
}

export function usageView(row: UsageRow): Record<string, unknown> {
  return {
    key_id: row.keyId,
    model: row.model,
    day: row.day,
    jobs: row.jobs,
    images: row.images,
    credits: row.credits,
    failures: row.failures,
    mean_generation_time: row.meanGenerationTime,
  };
}

export function backupView(b: BackupInfo): Record<string, unknown> {
  return { name: b.name, size: b.size, created_at: new Date(b.createdAt).toISOString() };
}

/** `/v1/admin/analytics`, `/v1/admin/backup` and `/v1/admin/backups`. */
export function adminReportsRoutes(app: FastifyInstance, accounts: AccountsApi): void {
  const tags = ['admin'];

  app.get<{ Querystring: RangeQuery & { key_id?: string; model?: string } }>(
    '/v1/admin/analytics',
    {
      schema: {
        tags,
        summary:
          'Per key, model and UTC day: jobs, images, credits, failures, mean generation time',
        querystring: {
          type: 'object',
          properties: {
            ...rangeQuerySchema,
            key_id: { type: 'string' },
            model: { type: 'string' },
          },
        },
        response: {
          200: listResponse('Usage rows', usageRowSchema, {
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
          }),
        },
      },
    },
    async (request) => {
      const { from, to } = parseRange(request.query);
      const { key_id: keyId, model } = request.query;
      const rows = await accounts.analytics.usage({
        from,
        to,
        ...(keyId === undefined ? {} : { keyId }),
        ...(model === undefined ? {} : { model }),
      });
      const names = new Map<string, string | null>();
      for (const id of new Set(rows.map((r) => r.keyId))) {
        names.set(id, (await accounts.keys.get(id).catch(() => undefined))?.name ?? null);
      }
      return {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        data: rows.map((r) => ({ ...usageView(r), key_name: names.get(r.keyId) ?? null })),
      };
    },
  );

  app.post(
    '/v1/admin/backup',
    {
      schema: {
        tags,
        summary:
          'A consistent online copy of the database (SQLite: VACUUM INTO; PostgreSQL: pg_dump)',
        response: { 201: jsonResponse('The backup written', backupSchema) },
      },
    },
    async (_request, reply) => reply.status(201).send(backupView(await accounts.backups.create())),
  );

  app.get(
    '/v1/admin/backups',
    {
      schema: {
        tags,
        summary: 'Backups on the server, newest first',
        response: { 200: listResponse('Backups', backupSchema) },
      },
    },
    async () => ({ data: (await accounts.backups.list()).map(backupView) }),
  );
}
