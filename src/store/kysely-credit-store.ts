import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type {
  AdjustOutcome,
  ChargeOutcome,
  CreditStore,
  LedgerEntry,
  LedgerKind,
} from '../accounts/credit-store.ts';
import type { CreditLedgerTable, Database } from './database-schema.ts';
import { isUniqueViolation, writeTransaction } from './write-transaction.ts';

function toEntry(row: Selectable<CreditLedgerTable>): LedgerEntry {
  return {
    id: row.id,
    keyId: row.key_id,
    kind: row.kind as LedgerKind,
    amount: Number(row.amount),
    balanceAfter: Number(row.balance_after),
    reason: row.reason,
    jobId: row.job_id,
    createdAt: Number(row.created_at),
  };
}

/** Thrown inside a transaction to roll it back when the ledger row already exists. */
class AlreadyRecorded extends Error {}

/**
 * {@link CreditStore} on Kysely (SQLite and PostgreSQL). Balances move only through conditional
 * UPDATEs (`credits >= cost`, backed by a CHECK), each in the same transaction as its ledger row;
 * UNIQUE (job_id, kind) rolls back a second charge or refund of a job.
 */
export class KyselyCreditStore implements CreditStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async #append(
    trx: Kysely<Database>,
    entry: Omit<LedgerEntry, 'id' | 'createdAt'>,
  ): Promise<void> {
    try {
      await trx
        .insertInto('credit_ledger')
        .values({
          id: randomUUID(),
          key_id: entry.keyId,
          kind: entry.kind,
          amount: entry.amount,
          balance_after: entry.balanceAfter,
          reason: entry.reason,
          job_id: entry.jobId,
          created_at: Date.now(),
        })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new AlreadyRecorded();
      throw error;
    }
  }

  async charge(keyId: string, jobId: string, cost: number, reason: string): Promise<ChargeOutcome> {
    try {
      return await writeTransaction(this.#db, async (trx) => {
        const row = await trx
          .updateTable('api_keys')
          .set((eb) => ({ credits: eb('credits', '-', cost) }))
          .where('id', '=', keyId)
          .where('credits', '>=', cost)
          .returning('credits')
          .executeTakeFirst();
        if (!row) {
          const balance = await trx
            .selectFrom('api_keys')
            .select('credits')
            .where('id', '=', keyId)
            .executeTakeFirst();
          return { ok: false, balance: Number(balance?.credits ?? 0) };
        }
        const balance = Number(row.credits);
        await this.#append(trx, {
          keyId,
          kind: 'charge',
          amount: -cost,
          balanceAfter: balance,
          reason,
          jobId,
        });
        return { ok: true, balance, amount: cost };
      });
    } catch (error) {
      if (!(error instanceof AlreadyRecorded)) throw error;
      const first = await this.entryOf(jobId, 'charge');
      return {
        ok: true,
        balance: (await this.balance(keyId)) ?? 0,
        amount: -(first?.amount ?? 0),
      };
    }
  }

  async refund(
    jobId: string,
    reason: string,
  ): Promise<{ amount: number; balance: number } | undefined> {
    try {
      return await writeTransaction(this.#db, async (trx) => {
        const charge = await trx
          .selectFrom('credit_ledger')
          .selectAll()
          .where('job_id', '=', jobId)
          .where('kind', '=', 'charge')
          .executeTakeFirst();
        if (!charge) return undefined;
        const amount = -Number(charge.amount);
        const row = await trx
          .updateTable('api_keys')
          .set((eb) => ({ credits: eb('credits', '+', amount) }))
          .where('id', '=', charge.key_id)
          .returning('credits')
          .executeTakeFirstOrThrow();
        const balance = Number(row.credits);
        await this.#append(trx, {
          keyId: charge.key_id,
          kind: 'refund',
          amount,
          balanceAfter: balance,
          reason,
          jobId,
        });
        return { amount, balance };
      });
    } catch (error) {
      if (error instanceof AlreadyRecorded) return undefined;
      throw error;
    }
  }

  async adjust(
    keyId: string,
    amount: number,
    kind: 'grant' | 'adjustment',
    reason: string,
  ): Promise<AdjustOutcome> {
    return writeTransaction(this.#db, async (trx) => {
      const row = await trx
        .updateTable('api_keys')
        .set((eb) => ({ credits: eb('credits', '+', amount) }))
        .where('id', '=', keyId)
        .where((eb) => eb(eb('credits', '+', amount), '>=', 0))
        .returning('credits')
        .executeTakeFirst();
      if (!row) {
        const current = await trx
          .selectFrom('api_keys')
          .select('credits')
          .where('id', '=', keyId)
          .executeTakeFirst();
        return current
          ? { ok: false, reason: 'negative', balance: Number(current.credits) }
          : { ok: false, reason: 'no-key', balance: 0 };
      }
      const balance = Number(row.credits);
      await this.#append(trx, { keyId, kind, amount, balanceAfter: balance, reason, jobId: null });
      return { ok: true, balance };
    });
  }

  async balance(keyId: string): Promise<number | undefined> {
    const row = await this.#db
      .selectFrom('api_keys')
      .select('credits')
      .where('id', '=', keyId)
      .executeTakeFirst();
    return row && Number(row.credits);
  }

  async entries(keyId: string, limit: number): Promise<LedgerEntry[]> {
    const rows = await this.#db
      .selectFrom('credit_ledger')
      .selectAll()
      .where('key_id', '=', keyId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toEntry);
  }

  async entryOf(jobId: string, kind: 'charge' | 'refund'): Promise<LedgerEntry | undefined> {
    const row = await this.#db
      .selectFrom('credit_ledger')
      .selectAll()
      .where('job_id', '=', jobId)
      .where('kind', '=', kind)
      .executeTakeFirst();
    return row && toEntry(row);
  }

  async sum(keyId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('credit_ledger')
      .select((eb) => eb.fn.sum<number | string | null>('amount').as('total'))
      .where('key_id', '=', keyId)
      .executeTakeFirst();
    return Number(row?.total ?? 0);
  }

  async unsettled(): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('credit_ledger as c')
      .leftJoin('jobs as j', 'j.id', 'c.job_id')
      .select('c.job_id')
      .where('c.kind', '=', 'charge')
      .where((eb) =>
        eb.or([eb('j.id', 'is', null), eb('j.status', 'in', ['failed', 'cancelled', 'expired'])]),
      )
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('credit_ledger as r')
              .select('r.id')
              .whereRef('r.job_id', '=', 'c.job_id')
              .where('r.kind', '=', 'refund'),
          ),
        ),
      )
      .orderBy('c.created_at', 'asc')
      .execute();
    return rows.flatMap((r) => (r.job_id === null ? [] : [r.job_id]));
  }
}
