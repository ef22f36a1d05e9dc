// The WebhookOutbox conformance suite over SQLite and PostgreSQL (a fresh schema per suite, two
// connection pools on it: two nodes' handles).
import { openDatabase } from '../../src/store/index.ts';
import { KyselyWebhookOutbox } from '../../src/store/kysely-webhook-outbox.ts';
import { dialects } from '../helpers/databases.ts';
import { webhookOutboxConformance } from './conformance/webhook-outbox-conformance.ts';

for (const dialect of await dialects()) {
  webhookOutboxConformance({
    name: dialect.name,
    skip: dialect.skip,
    async open() {
      const t = await dialect.open();
      const second = await openDatabase({
        driver: t.driver,
        url: t.url,
        ...(t.schema === undefined ? {} : { schema: t.schema }),
      });
      return {
        a: new KyselyWebhookOutbox(t.db),
        b: new KyselyWebhookOutbox(second),
        async close() {
          await second.destroy();
          await t.cleanup();
        },
      };
    },
  });
}
