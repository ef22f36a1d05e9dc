import { mkdirSync } from 'node:fs';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { PictorConfig } from '../config/index.ts';
import { buildApp } from '../api/build-app.ts';
import { createMetrics } from '../api/metrics.ts';
import { AdvertisedWorkers } from '../jobs/advertised-workers.ts';
import { BusEventSink } from '../jobs/bus-event-sink.ts';
import { ClusterJobRunner } from '../jobs/cluster-job-runner.ts';
import { DispatchFeed } from '../jobs/dispatch-feed.ts';
import { EtaEstimator } from '../jobs/eta-estimator.ts';
import { InProcessJobQueue } from '../jobs/in-process/in-process-job-queue.ts';
import { isFinalEvent } from '../jobs/job-event.ts';
import { unsubscribeLater } from '../jobs/job-event-bus.ts';
import { JobService } from '../jobs/job-service.ts';
import {
  KyselyJobRepository,
  KyselyUploadRepository,
  KyselyWebhookOutbox,
  openDatabase,
} from '../store/index.ts';
import { checkWebhookUrl } from '../webhooks/check-webhook-url.ts';
import { WebhookSender } from '../webhooks/webhook-sender.ts';
import { createAccounts } from './compose-accounts.ts';
import { createBlobStore } from './compose-blobs.ts';
import { createClusterPorts, newNodeId } from './compose-cluster.ts';
import { createClusterDuties } from './compose-duties.ts';
import {
  createLifecycle,
  createLogger,
  describeJob,
  jobServiceOptions,
  publicUrlOf,
  webhookSecret,
} from './compose-parts.ts';

export interface ApiNodeOptions {
  /** Silences logs (tests). */
  readonly logger?: false;
}

/** A composed API node: the HTTP API over the cluster's shared database, queue and bus. */
export interface PictorApi {
  readonly app: FastifyInstance;
  readonly service: JobService;
  /** Makes sure an admin key exists (`adminKey`: one created just now, to print once). */
  start(): Promise<{ adminKey: string | undefined }>;
  /** Graceful stop: no new jobs; queued and running ones stay with the cluster. */
  stop(): Promise<void>;
}

/** How often an API node reads the worker board and its view of queued and running jobs. */
const REFRESH_MS = 1000;

/** How long a readiness check waits for a service before calling it unreachable. */
const CHECK_TIMEOUT_MS = 2000;

/** `true` once `probe` resolves, else why not (its error, or no answer in time). */
async function answers(probe: () => Promise<unknown>): Promise<true | string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer in ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      probe().then(
        () => true as const,
        (error: unknown) => (error as Error).message,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The composition root of `pictor api`: the same app and job service as `pictor serve`, with the
 * cluster's adapters — jobs go to the shared dispatch queue ({@link ClusterJobRunner}), events
 * come from the shared bus (whichever node ran the job), models from the worker nodes'
 * advertisements, and state, keys and the ledger from the shared PostgreSQL.
 */
export async function createApiNode(
  config: PictorConfig,
  options: ApiNodeOptions = {},
): Promise<PictorApi> {
  mkdirSync(config.dataDir, { recursive: true });
  const { logger, stream } = createLogger(config, options.logger === false);
  const db = await openDatabase({ driver: config.database.driver, url: config.database.url });
  const jobs = new KyselyJobRepository(db);
  const uploads = new KyselyUploadRepository(db);
  const blobs = await createBlobStore(config, db);
  const { queue, bus, board, lock } = createClusterPorts(config);
  // Learns the worker nodes' measured step times from their advertisements.
  const eta = new EtaEstimator();
  const workers = new AdvertisedWorkers({ board, refreshMs: REFRESH_MS, logger, eta });
  // Final events free in-flight slots, wherever the job ended.
  const finals = {
    onAll: (listener: Parameters<typeof bus.onAll>[0]) => unsubscribeLater(bus.onAll(listener)),
  };
  const accounts = createAccounts(db, config, finals, {
    // The advertised model's own cost is not known here: the configured one applies.
    modelCost: () => undefined,
  });
  const publicUrl = publicUrlOf(config);
  const imageUrl = (id: string, index: number): string =>
    `${publicUrl}/v1/jobs/${id}/image?index=${index}`;
  const secret = webhookSecret(config);
  const nodeId = newNodeId();
  // Every API node sends from the shared outbox; its claims keep each delivery with one of them.
  const webhooks = new WebhookSender(
    new KyselyWebhookOutbox(db),
    { ...config.webhooks, secret, describe: describeJob(imageUrl), claimant: nodeId },
    logger,
  );
  const feed = new DispatchFeed(queue, logger);
  const events = new BusEventSink(bus, logger);
  const lifecycle = createLifecycle({
    db,
    ledgerOn: accounts.ledgerOn,
    webhookOf: (job) => webhooks.deliveryOf(job),
    queue: feed,
    events,
    logger,
    publicUrl,
    imageUrl,
  });
  const duties = createClusterDuties(config, {
    lock,
    nodeId,
    jobs,
    queue,
    lifecycle,
    blobs,
    uploads,
    logger,
  });
  const runner = new ClusterJobRunner({
    lifecycle,
    feed,
    published: () => events.flush(),
    dispatch: queue,
    jobs,
    workers,
    eta,
    newQueue: () => new InProcessJobQueue(),
    logger,
    maxBatch: config.queue.maxBatch,
    refreshMs: REFRESH_MS,
  });
  const service = new JobService(
    {
      jobs,
      runner,
      events: bus,
      blobs,
      uploads,
      lifecycle,
      ledger: accounts.ledger,
      checkWebhookUrl: (url) => checkWebhookUrl(url, config.webhooks.allowPrivateAddresses),
      admission: accounts.admission,
      idempotency: accounts.idempotency,
      // An API node has no models folder: the aliases it knows are pictor.yaml's.
      aliasesOf: (name) => config.models.list.find((m) => m.name === name)?.aliases ?? [],
    },
    jobServiceOptions(config),
  );
  const app = await buildApp(
    {
      service,
      events: bus,
      config,
      publicUrl,
      metrics: createMetrics(bus, service),
      authenticate: accounts.authenticate,
      accounts: accounts.api,
      // Ready when the shared services answer; the cluster's workers are reported, not required
      // (jobs wait in the queue for them, and `/v1/models` says what is served).
      checks: async () => {
        const [database, redis] = await Promise.all([
          answers(() => sql`select 1`.execute(db)),
          answers(() => queue.waitingCount()),
        ]);
        return { database, redis };
      },
    },
    options.logger === false ? { logger: false } : { logStream: stream },
  );
  let stopFinals = (): void => undefined;
  return {
    app,
    service,
    async start() {
      const { adminKey } = await accounts.start({ reconcile: false });
      await workers.start();
      await runner.start();
      // A finished job's webhook row was committed with its final state (maybe on a worker
      // node): send it now rather than at the next poll.
      stopFinals = finals.onAll((event) => {
        if (isFinalEvent(event)) webhooks.poll();
      });
      webhooks.start();
      // Re-enqueueing from the database and the TTL sweep, each on one node of the cluster at a
      // time (API or worker), so a cluster sweeps even while no worker node is up.
      duties.start();
      return { adminKey };
    },
    async stop() {
      runner.stop();
      await app.close();
      stopFinals();
      workers.stop();
      await webhooks.stop();
      await duties.stop();
      await events.flush();
      accounts.stop();
      await queue.close();
      await bus.close();
      await board.close();
      await lock.close();
      await blobs.close();
      await db.destroy();
    },
  };
}
