import { mkdirSync } from 'node:fs';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { PictorConfig } from '../config/index.ts';
import { buildApp } from '../api/build-app.ts';
import { createMetrics } from '../api/metrics.ts';
import { EtaEstimator } from '../jobs/eta-estimator.ts';
import { EventHub } from '../jobs/event-hub.ts';
import { InProcessEventBus } from '../jobs/in-process/in-process-event-bus.ts';
import { InProcessJobQueue } from '../jobs/in-process/in-process-job-queue.ts';
import { EmbeddedJobRunner } from '../jobs/embedded-job-runner.ts';
import { JobDispatcher } from '../jobs/job-dispatcher.ts';
import { JobService } from '../jobs/job-service.ts';
import { JobSweeper } from '../jobs/job-sweeper.ts';
import {
  KyselyJobRepository,
  KyselyUploadRepository,
  KyselyWebhookOutbox,
  openDatabase,
} from '../store/index.ts';
import { checkWebhookUrl } from '../webhooks/check-webhook-url.ts';
import { WebhookSender } from '../webhooks/webhook-sender.ts';
import type { ChildProcessWorkers } from '../workers/child-process-workers.ts';
import { ModelLibrary } from '../library/model-library.ts';
import { libraryPuller } from './pull-on-request.ts';
import { createAccounts } from './compose-accounts.ts';
import { createBlobStore } from './compose-blobs.ts';
import {
  createInferenceWorkers,
  createLifecycle,
  createLogger,
  describeJob,
  jobServiceOptions,
  publicUrlOf,
  webhookSecret,
} from './compose-parts.ts';
import { BlobExpirySweeper } from '../storage/blob-expiry-sweeper.ts';
import { findModel } from '../jobs/find-model.ts';

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

/** The composition root: picks every adapter from the config and wires the core to them. */
export async function createPictor(
  config: PictorConfig,
  options: PictorOptions = {},
): Promise<Pictor> {
  mkdirSync(config.dataDir, { recursive: true });
  const { logger, stream } = createLogger(config, options.logger === false);
  const db = await openDatabase({
    driver: config.database.driver,
    url: config.database.url,
    ...(options.databaseSchema === undefined ? {} : { schema: options.databaseSchema }),
  });
  const jobs = new KyselyJobRepository(db);
  const uploads = new KyselyUploadRepository(db);
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
  const publicUrl = publicUrlOf(config);
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
  const workers = createInferenceWorkers(
    config,
    library,
    logger,
    options.fakeStepMs ?? config.workers.fakeStepMs,
  );
  const secret = webhookSecret(config);
  const webhooks = new WebhookSender(
    new KyselyWebhookOutbox(db),
    // One process sends: its claims only matter to the next start, should this one die mid-send.
    { ...config.webhooks, secret, describe: describeJob(imageUrl), claimant: 'serve' },
    logger,
  );
  const lifecycle = createLifecycle({
    db,
    ledgerOn: accounts.ledgerOn,
    webhookOf: (job) => webhooks.deliveryOf(job),
    queue,
    events,
    logger,
    publicUrl,
    imageUrl,
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
  const runner = new EmbeddedJobRunner({
    queue,
    dispatcher,
    workers,
    lifecycle,
    eta,
    maxBatch: config.queue.maxBatch,
  });
  // The routes read events through the bus, as on an API node; here it is the hub itself.
  const bus = new InProcessEventBus(events);
  const puller = config.models.pullOnRequest ? libraryPuller(library, workers) : undefined;
  const service: JobService = new JobService(
    {
      jobs,
      runner,
      events: bus,
      blobs,
      uploads,
      lifecycle,
      ledger,
      checkWebhookUrl: (url) => checkWebhookUrl(url, config.webhooks.allowPrivateAddresses),
      admission: accounts.admission,
      idempotency: accounts.idempotency,
      ...(puller ? { pullOnRequest: { puller, logger } } : {}),
      aliasesOf: (name) => library.aliasesOf(name),
    },
    jobServiceOptions(config),
  );
  const sweeper = new JobSweeper({
    jobs,
    queue,
    blobs,
    uploads,
    retained: events,
    lifecycle,
    maxWaitMs: config.queue.maxWaitSeconds * 1000,
  });
  const app = await buildApp(
    {
      service,
      events: bus,
      config,
      publicUrl,
      library,
      loading: workers,
      metrics: createMetrics(bus, service),
      authenticate: accounts.authenticate,
      accounts: accounts.api,
      checks: async () => {
        const database = await sql`select 1`.execute(db).then(
          () => true as const,
          (e: Error) => e.message,
        );
        const model = findModel(service.models(), config.models.default);
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
      // Before recovery finishes or fails any of them: they count toward their keys' max_jobs.
      await accounts.admission?.adopt(await jobs.listByStatus(['queued', 'running']));
      // Jobs that were waiting for a model pulled on request when the server stopped: their pulls
      // resume (one pull per model: the library joins it with any new request's).
      const recovered = {
        ...(await dispatcher.recover((job) => service.resumeAwaiting(job))),
        adminKey,
        refunded: reconciled.length,
      };
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
      await webhooks.stop();
      accounts.stop();
      await workers.close(0);
      await dispatcher.drain();
      await blobs.close();
      await db.destroy();
    },
  };
}
