import type { PictorConfig } from './config.ts';

/** What a process runs: everything (`serve`), or one side of a cluster. */
export type NodeRole = 'serve' | 'api' | 'worker';

/**
 * Why `config` cannot run `role`: the nodes of a cluster share their state, so each needs the
 * shared database (PostgreSQL), Redis (queue, events, counters) and a blob store every node
 * reaches (`postgres` or `s3`, not one machine's disk). Empty when it can.
 */
export function nodeRoleProblems(config: PictorConfig, role: NodeRole): string[] {
  if (role === 'serve') return [];
  const needs = `pictor ${role} is one node of a cluster, whose nodes share their state`;
  const problems: string[] = [];
  if (config.database.driver !== 'postgres')
    problems.push(`database.driver: ${needs}: set postgres (and database.url)`);
  if (config.redis.url === '') problems.push(`redis.url: ${needs}: set the Redis every node uses`);
  if (config.storage.blobs === 'local')
    problems.push(
      `storage.blobs: ${needs}: local files are one machine's; set postgres or s3 (storage.s3.*)`,
    );
  return problems;
}
