import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino, { type Logger as PinoLogger } from 'pino';
import type { Kysely } from 'kysely';
import type { PictorConfig } from '../config/index.ts';
import type { JobServiceOptions } from '../jobs/job-service.ts';
import { jobView } from '../api/job-view.ts';
import { JobLifecycle } from '../jobs/job-lifecycle.ts';
import type { Ledger } from '../jobs/ledger.ts';
import type { JobEventSink, LifecycleQueue } from '../jobs/lifecycle-ports.ts';
import type { LibraryModel } from '../library/library-model.ts';
import type { ModelLibrary } from '../library/model-library.ts';
import {
  KyselyJobRepository,
  KyselyTransitionStore,
  KyselyWebhookOutbox,
  type Database,
} from '../store/index.ts';
import type { Job } from '../jobs/job.ts';
import type { WebhookDelivery } from '../webhooks/webhook-outbox.ts';
import { ChildProcessWorkers } from '../workers/child-process-workers.ts';
import type { WorkerModel } from '../workers/worker-protocol.ts';
import { logStream } from './log-stream.ts';
import { intraOpThreadsPerWorker } from './worker-threads.ts';

/** The parts every kind of node (`serve`, `worker`) builds the same way. */

export function createLogger(
  config: PictorConfig,
  silent: boolean,
): { logger: PinoLogger; stream: ReturnType<typeof logStream> | undefined } {
  if (silent) return { logger: pino({ level: 'silent' }), stream: undefined };
  const stream = logStream(config.log);
  return { logger: pino({ level: config.log.level }, stream), stream };
}

/** The base of the absolute URLs in events and job views. */
export function publicUrlOf(config: PictorConfig): string {
  return config.server.publicUrl !== ''
    ? config.server.publicUrl.replace(/\/$/, '')
    : `http://${config.server.host}:${config.server.port}`;
}

/** The job service's limits, the same on `pictor serve` and on an API node. */
export function jobServiceOptions(config: PictorConfig): JobServiceOptions {
  return {
    defaultModel: config.models.default,
    maxQueued: config.queue.maxQueued,
    maxImagesPerJob: config.queue.maxImagesPerJob,
    maxPromptLength: config.queue.maxPromptLength,
    uploadTtlMs: config.results.ttlSeconds * 1000,
    uploadQuotaBytes: config.uploads.quotaMbPerKey * 1024 * 1024,
    maxInputPixels: config.uploads.maxPixels,
  };
}

/**
 * The secret webhooks are signed with: `webhooks.secret`, else one generated once under the data
 * dir (the nodes of a cluster must share one, so they set it).
 */
export function webhookSecret(config: PictorConfig): string {
  if (config.webhooks.secret !== '') return config.webhooks.secret;
  const file = path.join(config.dataDir, 'webhook-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/**
 * What a worker needs of each library model; keep-alive falls back to `models.keepAliveSeconds`,
 * low-memory mode to `workers.lowMemory`.
 */
function workerModels(models: readonly LibraryModel[], config: PictorConfig): WorkerModel[] {
  const configured = new Map(config.models.list.map((m) => [m.name, m]));
  return models.map((m) => ({
    name: m.name,
    path: m.path,
    overrides: m.origin === 'config' ? configured.get(m.name)?.overrides : m.overrides,
    components: m.origin === 'config' ? configured.get(m.name)?.components : undefined,
    tokenizers: m.tokenizers,
    quantization: m.quantization,
    sizeBytes: m.sizeBytes,
    family: m.family,
    keepAliveSeconds: m.keepAliveSeconds ?? config.models.keepAliveSeconds,
    lowMemory: m.lowMemory ?? config.workers.lowMemory,
  }));
}

/** This machine's inference worker processes, following the library's models. */
export function createInferenceWorkers(
  config: PictorConfig,
  library: ModelLibrary,
  logger: PinoLogger,
  fakeStepMs: number,
): ChildProcessWorkers {
  const workers = new ChildProcessWorkers({
    devices: config.workers.devices,
    init: {
      engine: config.workers.engine,
      models: workerModels(library.list(), config),
      preload: config.models.preload,
      memoryBudgetBytes: Math.round(config.workers.memoryBudgetGb * 1024 ** 3),
      intraOpThreads: intraOpThreadsPerWorker(
        config.workers.intraOpThreads,
        config.workers.devices.length,
      ),
      cacheDir: path.join(config.dataDir, 'cache'),
      cacheOptimizedModels: config.workers.cacheOptimizedModels,
      fakeStepMs,
    },
    restartDelayMs: config.workers.restartDelayMs,
    stepTimeoutMs: config.workers.stepTimeoutMs,
    logger,
  });
  library.onChange((models) => workers.setModels(workerModels(models, config)));
  return workers;
}

/** A job as webhook payloads show it (`data` of `job.completed`, …). */
export function describeJob(
  imageUrl: (jobId: string, index: number) => string,
): (job: Job) => Record<string, unknown> {
  return (job) => jobView(job, { position: undefined, waitRemainingMs: undefined }, imageUrl);
}

/**
 * The job lifecycle on the database: each transition writes the job, its ledger entry and its
 * webhook row in one transaction; `queue` and `events` are the node's (in-process or shared).
 */
export function createLifecycle(parts: {
  readonly db: Kysely<Database>;
  readonly ledgerOn: (trx: Kysely<Database>) => Ledger;
  /** The webhook outbox row of a finished job (written with its final state), if any. */
  readonly webhookOf: (job: Job) => WebhookDelivery | undefined;
  readonly queue: LifecycleQueue;
  readonly events: JobEventSink;
  readonly logger: PinoLogger;
  readonly publicUrl: string;
  readonly imageUrl: (jobId: string, index: number) => string;
}): JobLifecycle {
  const { db, ledgerOn, webhookOf, publicUrl } = parts;
  const transitions = new KyselyTransitionStore(db, (trx) => ({
    jobs: new KyselyJobRepository(trx),
    ledger: ledgerOn(trx),
    outbox: {
      async record(job) {
        const delivery = webhookOf(job);
        if (delivery) await new KyselyWebhookOutbox(trx).add(delivery);
      },
    },
  }));
  return new JobLifecycle({
    transitions,
    queue: parts.queue,
    events: parts.events,
    logger: parts.logger,
    imageUrl: parts.imageUrl,
    jobUrl: (id) => `${publicUrl}/v1/jobs/${id}`,
  });
}
