import type { ModelTiming } from './eta-estimator.ts';
import type { ModelInfo } from './inference-workers.ts';

/** What one worker node serves, as it tells the cluster (see {@link WorkerBoard}). */
export interface WorkerAdvertisement {
  /** Unique per worker process (a restarted node is a new one). */
  readonly nodeId: string;
  /** The inference devices the node runs (`cpu`, `cuda:0`, …). */
  readonly devices: readonly string[];
  /** Its models as its workers describe them: `loaded` now, `available`, limits and defaults. */
  readonly models: readonly ModelInfo[];
  /**
   * The node's measured costs per model (its ETA estimator's), so API nodes forecast queue
   * waits from real step times; absent or empty before its first batch.
   */
  readonly timings?: Readonly<Record<string, ModelTiming>>;
  /** Epoch ms of this advertisement (each heartbeat writes a new one). */
  readonly advertisedAt: number;
}

/**
 * Where worker nodes advertise what they serve and API nodes read it. An advertisement lives
 * `ttlMs` after its last {@link publish}: a node that dies or hangs drops out by itself; a node
 * that stops gracefully {@link withdraw}s at once.
 *
 * Contract: {@link live} lists each node's latest advertisement whose TTL has not run out, and
 * never one withdrawn; publishing again replaces a node's advertisement and restarts its TTL.
 */
export interface WorkerBoard {
  publish(advertisement: WorkerAdvertisement, ttlMs: number): Promise<void>;
  withdraw(nodeId: string): Promise<void>;
  live(): Promise<readonly WorkerAdvertisement[]>;
}
