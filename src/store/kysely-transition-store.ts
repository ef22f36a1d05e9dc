import type { Kysely } from 'kysely';
import type { TransitionStore, TransitionWrites } from '../jobs/transition-store.ts';
import type { Database } from './database-schema.ts';
import { writeTransaction } from './write-transaction.ts';

/**
 * {@link TransitionStore} on one Kysely write transaction. `bind` builds the writers on the
 * transaction's handle (the ledger and the outbox come from other modules, so the composition
 * root supplies them).
 */
export class KyselyTransitionStore implements TransitionStore {
  readonly #db: Kysely<Database>;
  readonly #bind: (trx: Kysely<Database>) => TransitionWrites;

  constructor(db: Kysely<Database>, bind: (trx: Kysely<Database>) => TransitionWrites) {
    this.#db = db;
    this.#bind = bind;
  }

  run<T>(work: (writes: TransitionWrites) => Promise<T>): Promise<T> {
    return writeTransaction(this.#db, (trx) => work(this.#bind(trx)));
  }
}
