export type { Database } from './database-schema.ts';
export { openDatabase, type DatabaseOptions } from './open-database.ts';
export { NodeSqliteDatabase } from './node-sqlite-database.ts';
export { KyselyJobRepository } from './kysely-job-repository.ts';
export { KyselyUploadRepository } from './kysely-upload-repository.ts';
export { KyselyWebhookOutbox } from './kysely-webhook-outbox.ts';
