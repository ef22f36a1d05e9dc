import { mkdirSync } from 'node:fs';
import type { PictorConfig } from '../config/index.ts';
import { BatchRunner } from '../jobs/batch-runner.ts';
import { BusEventSink } from '../jobs/bus-event-sink.ts';
import { DispatchFeed } from '../jobs/dispatch-feed.ts';
import { EtaEstimator } from '../jobs/eta-estimator.ts';
import { WorkerAdvertising } from '../jobs/worker-advertising.ts';
import { WorkerNode } from '../jobs/worker-node.ts';
import { ModelLibrary } from '../library/model-library.ts';
import { KyselyJobRepository, KyselyUploadRepository, openDatabase } from '../store/index.ts';
import { webhookDeliveryOf } from '../webhooks/webhook-delivery-of.ts';
import type { ChildProcessWorkers } from '../workers/child-process-workers.ts';
import { createAccounts } from './compose-accounts.ts';
import { createBlobStore } from './compose-blobs.ts';
import { createClusterPorts, newNodeId } from './compose-cluster.ts';
import { createClusterDuties } from './compose-duties.ts';
import {
  createInferenceWorkers,
  createLifecycle,
  createLogger,
  describeJob,
  publicUrlOf,
} from './compose-parts.ts';

export interface WorkerNodeOptions {
  /** Step time of the fake engine (`workers.engine: fake`). */
  readonly fakeStepMs?: number;
  /** Silences logs (tests). */
  readonly logger?: false;
}

/** A composed worker node: this machine's inference workers serving the cluster's queue. */
export interface PictorWorker {
  readonly workers: ChildProcessWorkers;
  /** This process's id on the cluster's worker board. */
  readonly nodeId: string;
  start(): Promise<void>;
  /** Graceful stop: no new jobs; the running batch finishes (deadline) or its jobs go back. */
  stop(): Promise<void>;
}

/**
 * The composition root of `pictor worker`: the same batch running as `pictor serve`
 * ({@link BatchRunner}), fed by leases on the shared dispatch queue, its events on the shared
 * bus, its results in the shared blob store, its transitions in the shared database.
 */
export async function createWorkerNode(
  config: PictorConfig,
  options: WorkerNodeOptions = {},
): Promise<PictorWorker> {
  mkdirSync(config.dataDir, { recursive: true });
  const { logger } = createLogger(config, options.logger === false);
  const db = await openDatabase({ driver: config.database.driver, url: config.database.url });
  const blobs = await createBlobStore(config, db);
  const library = new ModelLibrary(config, { inUse: () => false });
  await library.scan();
  const workers = createInferenceWorkers(
    config,
    library,
    logger,
    options.fakeStepMs ?? config.workers.fakeStepMs,
  );
  const { queue, bus, board, lock } = createClusterPorts(config);
  const nodeId = newNodeId();
  // Measures this node's batches; advertised, so API nodes forecast with real step times.
  const eta = new EtaEstimator();
  const heartbeatMs = Math.round(config.cluster.leaseMs / 3);
  // Lives one lease (three heartbeats): a dead node leaves the board as its jobs' leases expire.
  const advertising = new WorkerAdvertising({
    board,
    snapshot: () => ({
      nodeId,
      devices: config.workers.devices,
      models: workers.models(),
      timings: eta.measured(),
    }),
    heartbeatMs,
    logger,
  });
  const feed = new DispatchFeed(queue, logger);
  const events = new BusEventSink(bus, logger);
  // Refunds only: the credits a failed job is given back.
  const accounts = createAccounts(db, config, undefined, {
    modelCost: (name) => library.get(name)?.cost,
  });
  const publicUrl = publicUrlOf(config);
  const imageUrl = (id: string, index: number): string =>
    `${publicUrl}/v1/jobs/${id}/image?index=${index}`;
  const describe = describeJob(imageUrl);
  const lifecycle = createLifecycle({
    db,
    ledgerOn: accounts.ledgerOn,
    // Rows only: the API nodes send (and sign) webhooks; a worker records them.
    webhookOf: (job) => webhookDeliveryOf(job, describe),
    queue: feed,
    events,
    logger,
    publicUrl,
    imageUrl,
  });
  const deps = {
    jobs: new KyselyJobRepository(db),
    workers,
    blobs,
    uploads: new KyselyUploadRepository(db),
    lifecycle,
    eta,
    logger,
    resultTtlMs: config.results.ttlSeconds * 1000,
  };
  const node = new WorkerNode({
    ...deps,
    queue,
    feed,
    bus,
    runner: new BatchRunner(deps),
    maxBatch: config.queue.maxBatch,
    heartbeatMs,
    pollMs: 200,
  });
  const duties = createClusterDuties(config, { ...deps, lock, nodeId, queue });
  return {
    workers,
    nodeId,
    async start() {
      node.start();
      library.watch((error) => logger.warn({ err: error }, 'models folder watch failed'));
      // Whatever Redis lost comes back from the database before this node waits for its workers.
      duties.start();
      await workers.ready();
      // After the workers said which models they serve.
      await advertising.start();
    },
    async stop() {
      // First, so API nodes stop counting on this node while it finishes.
      await advertising.stop();
      await node.stop(config.server.shutdownTimeoutSeconds * 1000);
      await duties.stop();
      await library.close();
      await workers.close(0);
      await node.drain();
      await events.flush();
      await queue.close();
      await bus.close();
      await board.close();
      await lock.close();
      accounts.stop();
      await blobs.close();
      await db.destroy();
    },
  };
}
