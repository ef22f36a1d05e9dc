/** Execution providers a worker may ask ONNX Runtime for. */
export type WorkerDevice = 'cpu' | 'cuda' | 'coreml' | 'dml' | 'webgpu';

/** Which inference engine the worker child process loads: the ONNX one, or a deterministic fake for tests. */
export type WorkerEngineKind = 'onnx' | 'fake';

/** One model the server serves: a name in the API and a diffusers ONNX folder on disk. */
export interface ModelConfig {
  readonly name: string;
  readonly path: string;
}

/**
 * Pictor's whole configuration, validated once at boot and frozen. Built by `loadConfig` from
 * defaults → `pictor.yaml` → `PICTOR_*` environment → command-line flags; nothing outside
 * `src/config/` reads `process.env`.
 */
export interface PictorConfig {
  /** Everything the server writes (database, results, uploads, logs) lives under it. */
  readonly dataDir: string;
  readonly server: {
    readonly host: string;
    readonly port: number;
    /** Base URL used in retrieval links; derived from host and port when empty. */
    readonly publicUrl: string;
    /** Largest accepted request body, in megabytes. */
    readonly bodyLimitMb: number;
    /** How long a graceful shutdown lets the running job finish. */
    readonly shutdownTimeoutSeconds: number;
  };
  readonly database: {
    readonly driver: 'sqlite' | 'postgres';
    /** `postgres://…` for PostgreSQL; a file path (relative to `dataDir`) or `:memory:` for SQLite. */
    readonly url: string;
  };
  readonly models: {
    /** Name of the model used when a request names none. */
    readonly default: string;
    readonly list: readonly ModelConfig[];
  };
  readonly workers: {
    /** One worker child process per device entry. */
    readonly devices: readonly WorkerDevice[];
    readonly engine: WorkerEngineKind;
    /** ONNX Runtime intra-op threads per worker; 0 lets the runtime decide. */
    readonly intraOpThreads: number;
    /** Milliseconds to wait before restarting a worker that died. */
    readonly restartDelayMs: number;
  };
  readonly queue: {
    /** Queued jobs beyond this are refused with `429` and `Retry-After`. */
    readonly maxQueued: number;
    /** Compatible queued jobs run as one engine batch up to this many jobs; 1 disables batching. */
    readonly maxBatch: number;
    /** Most images one job may ask for (`n`). */
    readonly maxImagesPerJob: number;
    /** A job still queued after this long is `expired` (and refunded). */
    readonly maxWaitSeconds: number;
  };
  readonly results: {
    /** Results (and uploads) are deleted this long after the job finished. */
    readonly ttlSeconds: number;
    /** How often the sweeper looks for expired results. */
    readonly sweepIntervalSeconds: number;
  };
  readonly webhooks: {
    /** Allow webhook URLs that resolve to private, loopback or link-local addresses (tests, LANs). */
    readonly allowPrivateAddresses: boolean;
    /** `whsec_…` signing secret; generated and stored under `dataDir` when empty. */
    readonly secret: string;
    readonly maxAttempts: number;
    /** First retry delay; later ones double, with jitter. */
    readonly initialBackoffMs: number;
    readonly timeoutMs: number;
  };
  readonly log: {
    readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  };
}

/** The single place defaults live. */
export const DEFAULT_CONFIG: PictorConfig = {
  dataDir: './pictor-data',
  server: {
    host: '127.0.0.1',
    port: 8080,
    publicUrl: '',
    bodyLimitMb: 25,
    shutdownTimeoutSeconds: 30,
  },
  database: { driver: 'sqlite', url: 'pictor.db' },
  models: { default: 'tiny', list: [{ name: 'tiny', path: 'models/tiny' }] },
  workers: { devices: ['cpu'], engine: 'onnx', intraOpThreads: 0, restartDelayMs: 500 },
  queue: { maxQueued: 1000, maxBatch: 4, maxImagesPerJob: 4, maxWaitSeconds: 3600 },
  results: { ttlSeconds: 3600, sweepIntervalSeconds: 60 },
  webhooks: {
    allowPrivateAddresses: false,
    secret: '',
    maxAttempts: 15,
    initialBackoffMs: 5000,
    timeoutMs: 10000,
  },
  log: { level: 'info' },
};
