import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import type { PictorConfig } from '../config/index.ts';
import { buildApp } from '../api/build-app.ts';
import { logStream } from './log-stream.ts';
import { jobView } from '../api/job-view.ts';
import { createMetrics } from '../api/metrics.ts';
import { EtaEstimator } from '../jobs/eta-estimator.ts';
import { EventHub } from '../jobs/event-hub.ts';
import { InProcessJobQueue } from '../jobs/in-process/in-process-job-queue.ts';
import { JobDispatcher } from '../jobs/job-dispatcher.ts';
import { JobLifecycle } from '../jobs/job-lifecycle.ts';
import { JobService } from '../jobs/job-service.ts';
import { JobSweeper } from '../jobs/job-sweeper.ts';
import {
  KyselyJobRepository,
  KyselyTransitionStore,
  KyselyUploadRepository,
  KyselyWebhookOutbox,
  openDatabase,
} from '../store/index.ts';
import { checkWebhookUrl } from '../webhooks/check-webhook-url.ts';
import { WebhookSender } from '../webhooks/webhook-sender.ts';
import { ChildProcessWorkers } from '../workers/child-process-workers.ts';
import type { WorkerModel } from '../workers/worker-protocol.ts';
import type { LibraryModel } from '../library/library-model.ts';
import { ModelLibrary } from '../library/model-library.ts';
import { libraryPuller } from './pull-on-request.ts';
import { createAccounts } from './compose-accounts.ts';
import { createBlobStore } from './compose-blobs.ts';
import { BlobExpirySweeper } from '../storage/blob-expiry-sweeper.ts';

export interface PictorOptions {
  /** Step time of the fake engine (`workers.engine: fake`). */
  readonly fakeStepMs?: number;
  /** Silences logs (tests). */
  readonly logger?: false;
  /** PostgreSQL schema (test isolation). */
  readonly databaseSchema?: string;
}

/** A composed server: the app plus everything it owns. */
export interface Pictor {
  readonly app: FastifyInstance;
  readonly service: JobService;
  /** Every job's events (what SSE, WebSocket and metrics read). */
  readonly events: EventHub;
  readonly workers: ChildProcessWorkers;
  /** The model library: scans, pulls, removals; workers follow its changes. */
  readonly library: ModelLibrary;
  readonly sweeper: JobSweeper;
  readonly webhooks: WebhookSender;
  readonly webhookSecret: string;
  /**
   * Settles unsettled charges, makes sure an admin key exists (`adminKey`: the secret of one
   * created just now, to print once), re-queues persisted jobs and starts the background loops.
   */
  start(): Promise<{
    requeued: number;
    retried: number;
    failed: number;
    adminKey: string | undefined;
    refunded: number;
  }>;
  /** Graceful stop: no new work, let the running batch finish (deadline), keep queued jobs. */
  stop(): Promise<void>;
}

function webhookSecret(config: PictorConfig): string {
  if (config.webhooks.secret !== '') return config.webhooks.secret;
  const file = path.join(config.dataDir, 'webhook-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** What a worker needs of each library model; keep-alive falls back to `models.keepAliveSeconds`. */
function workerModels(models: readonly LibraryModel[], config: PictorConfig): WorkerModel[] {
  const overrides = new Map(config.models.list.map((m) => [m.name, m.overrides]));
  return models.map((m) => ({
    name: m.name,
    path: m.path,
    overrides: m.origin === 'config' ? overrides.get(m.name) : undefined,
    quantization: m.quantization,
    sizeBytes: m.sizeBytes,
    family: m.family,
    keepAliveSeconds: m.keepAliveSeconds ?? config.models.keepAliveSeconds,
  }));
}

/** The composition root: picks every adapter from the config and wires the core to them. */
export async function createPictor(
  config: PictorConfig,
  options: PictorOptions = {},
): Promise<Pictor> {
  mkdirSync(config.dataDir, { recursive: true });
  const stream = options.logger === false ? undefined : logStream(config.log);
  const logger =
    options.logger === false
      ? pino({ level: 'silent' })
      : pino({ level: config.log.level }, stream);
  const db = await openDatabase({
    driver: config.database.driver,
    url: config.database.url,
    ...(options.databaseSchema === undefined ? {} : { schema: options.databaseSchema }),
  });
  const jobs = new KyselyJobRepository(db);
  const uploads = new KyselyUploadRepository(db);
  const outbox = new KyselyWebhookOutbox(db);
  const blobs = await createBlobStore(config, db);
  const blobSweeper = new BlobExpirySweeper(blobs);
  const queue = new InProcessJobQueue();
  const events = new EventHub();
  const eta = new EtaEstimator();
  const accounts = createAccounts(db, config, events, {
    databaseSchema: options.databaseSchema,
    // `library` is built below; costs are asked for only once requests arrive.
    modelCost: (name: string): number | undefined => library.get(name)?.cost,
  });
  const ledger = accounts.ledger;
  const publicUrl =
    config.server.publicUrl !== ''
      ? config.server.publicUrl.replace(/\/$/, '')
      : `http://${config.server.host}:${config.server.port}`;
  const imageUrl = (id: string, index: number): string =>
    `${publicUrl}/v1/jobs/${id}/image?index=${index}`;
  // Jobs queued or running on a model keep it from being removed (`service` is built below;
  // removals come only through the app, after it).
  const library: ModelLibrary = new ModelLibrary(config, {
    inUse: (name: string): boolean => {
      const row = service.queueStats().perModel[name];
      return row !== undefined && row.queued + row.running > 0;
    },
  });
  await library.scan();
  const workers = new ChildProcessWorkers({
    devices: config.workers.devices,
    init: {
      engine: config.workers.engine,
      models: workerModels(library.list(), config),
      preload: config.models.preload,
      memoryBudgetBytes: Math.round(config.workers.memoryBudgetGb * 1024 ** 3),
      intraOpThreads: config.workers.intraOpThreads,
      cacheDir: path.join(config.dataDir, 'cache'),
      fakeStepMs: options.fakeStepMs ?? 20,
    },
    restartDelayMs: config.workers.restartDelayMs,
    stepTimeoutMs: config.workers.stepTimeoutMs,
    logger,
  });
  library.onChange((models) => workers.setModels(workerModels(models, config)));
  const secret = webhookSecret(config);
  const webhooks = new WebhookSender(
    outbox,
    {
      ...config.webhooks,
      secret,
      describe: (job) =>
        jobView(job, { position: undefined, waitRemainingMs: undefined }, imageUrl),
    },
    logger,
  );
  const transitions = new KyselyTransitionStore(db, (trx) => ({
    jobs: new KyselyJobRepository(trx),
    ledger: accounts.ledgerOn(trx),
    outbox: {
      async record(job) {
        const delivery = webhooks.deliveryOf(job);
        if (delivery) await new KyselyWebhookOutbox(trx).add(delivery);
      },
    },
  }));
  const lifecycle = new JobLifecycle({
    transitions,
    queue,
    events,
    logger,
    imageUrl,
    jobUrl: (id) => `${publicUrl}/v1/jobs/${id}`,
  });
  // A finished job's webhook row is committed with its final state: send it now.
  lifecycle.onFinished((job) => {
    if (job.webhookUrl) webhooks.poll();
  });
  const dispatcher = new JobDispatcher({
    jobs,
    queue,
    workers,
    blobs,
    uploads,
    lifecycle,
    eta,
    logger,
    maxBatch: config.queue.maxBatch,
    resultTtlMs: config.results.ttlSeconds * 1000,
  });
  const service: JobService = new JobService(
    {
      jobs,
      queue,
      workers,
      blobs,
      uploads,
      lifecycle,
      eta,
      ledger,
      dispatcher,
      checkWebhookUrl: (url) => checkWebhookUrl(url, config.webhooks.allowPrivateAddresses),
      admission: accounts.admission,
      idempotency: accounts.idempotency,
      ...(config.models.pullOnRequest
        ? { pullOnRequest: { puller: libraryPuller(library, workers), logger } }
        : {}),
    },
    {
      defaultModel: config.models.default,
      maxQueued: config.queue.maxQueued,
      maxBatch: config.queue.maxBatch,
      maxImagesPerJob: config.queue.maxImagesPerJob,
      maxPromptLength: config.queue.maxPromptLength,
      uploadTtlMs: config.results.ttlSeconds * 1000,
      uploadQuotaBytes: config.uploads.quotaMbPerKey * 1024 * 1024,
      maxInputPixels: config.uploads.maxPixels,
    },
  );
  const sweeper = new JobSweeper({
    jobs,
    queue,
    blobs,
    uploads,
    events,
    lifecycle,
    maxWaitMs: config.queue.maxWaitSeconds * 1000,
  });
  const app = await buildApp(
    {
      service,
      events,
      config,
      publicUrl,
      library,
      loading: workers,
      metrics: createMetrics(events, service),
      authenticate: accounts.authenticate,
      accounts: accounts.api,
      checks: async () => {
        const database = await sql`select 1`.execute(db).then(
          () => true as const,
          (e: Error) => e.message,
        );
        const model = service.models().find((m) => m.name === config.models.default);
        return {
          database,
          worker: workers.readiness(),
          model: model?.available
            ? true
            : (model?.error ?? `model '${config.models.default}' not loaded yet`),
          queue: queue.size < config.queue.maxQueued ? true : 'full',
        };
      },
    },
    options.logger === false ? { logger: false } : { logStream: stream },
  );
  return {
    app,
    service,
    events,
    workers,
    library,
    sweeper,
    webhooks,
    webhookSecret: secret,
    async start() {
      const { adminKey, reconciled } = await accounts.start();
      const recovered = { ...(await dispatcher.recover()), adminKey, refunded: reconciled.length };
      sweeper.start(config.results.sweepIntervalSeconds * 1000, (error) =>
        logger.error({ err: error }, 'sweep failed'),
      );
      blobSweeper.start(config.results.sweepIntervalSeconds * 1000, (error) =>
        logger.error({ err: error }, 'blob expiry sweep failed'),
      );
      webhooks.start();
      library.watch((error) => logger.warn({ err: error }, 'models folder watch failed'));
      dispatcher.dispatch();
      return recovered;
    },
    async stop() {
      await app.close();
      await library.close();
      await dispatcher.stop(config.server.shutdownTimeoutSeconds * 1000);
      sweeper.stop();
      await blobSweeper.stop();
      webhooks.stop();
      accounts.stop();
      await workers.close(0);
      await dispatcher.drain();
      await blobs.close();
      await db.destroy();
    },
  };
}
