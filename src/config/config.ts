import type { QuantizationSetting } from './quantization-setting.ts';

/** Execution providers a worker may ask ONNX Runtime for. */
export type WorkerDevice = 'cpu' | 'cuda' | 'coreml' | 'dml' | 'webgpu';

/** Where blobs (results, uploads) are kept; see `storage.blobs`. */
export type BlobStoreKind = 'local' | 'postgres' | 's3';

/** Which inference engine the worker child process loads: the ONNX one, or a deterministic fake for tests. */
export type WorkerEngineKind = 'onnx' | 'fake';

/** One model the server serves: a name in the API and a diffusers ONNX folder on disk. */
export interface ModelConfig {
  readonly name: string;
  readonly path: string;
  /** Credits per image for this model; `credits.costPerImage` when absent. */
  readonly cost?: number;
  /** Seconds this model stays loaded while idle; `models.keepAliveSeconds` when absent. */
  readonly keepAliveSeconds?: number;
  /**
   * `int8`/`int4` (Scratchy's `8bit`/`4bit` accepted, normalized) quantize a checkpoint's linear
   * layers to fit less memory; `none` when absent.
   */
  readonly quantization?: QuantizationSetting;
  /** Low-memory mode for this model (see `workers.lowMemory`); `workers.lowMemory` when absent. */
  readonly lowMemory?: boolean;
  /** What the model's files say (or detection guesses), overridden; the engine checks the scheduler name. */
  readonly overrides?: ModelOverridesConfig;
  /**
   * `path` is a transformer-only `.safetensors` (FLUX.1, SD 3.x, Z-Image): its text encoder and
   * VAE files (absolute after loading), as ComfyUI's `text_encoders/` and `vae/` hold them.
   */
  readonly components?: ModelComponentsConfig;
  /**
   * Tokenizer folders (absolute after loading) for a checkpoint's T5 or Qwen3 encoder, each
   * holding its `tokenizer.json`, used instead of the model's own folder and the bundled one.
   */
  readonly tokenizers?: ModelTokenizersConfig;
  /**
   * Other names requests may use for this model (a Hugging Face id its clients send, a short
   * name): every dialect resolves them to `name`, and jobs record `name`.
   */
  readonly aliases?: readonly string[];
}

/** What a model alias may look like: a model name, or a Hugging Face style `org/repo`. */
export const MODEL_ALIAS_PATTERN = /^[a-zA-Z0-9._-]{1,64}(\/[a-zA-Z0-9._-]{1,96})?$/;

/** The roles of `models.list[].components`; which a model needs depends on its family. */
export const COMPONENT_ROLES = ['clipL', 'clipG', 't5', 'qwen3', 'vae'] as const;

export type ModelComponentsConfig = Partial<Record<(typeof COMPONENT_ROLES)[number], string>>;

/** The encoders `models.list[].tokenizers` names folders for (CLIP's merges come with its files). */
export const TOKENIZER_ROLES = ['t5', 'qwen3'] as const;

export type ModelTokenizersConfig = Partial<Record<(typeof TOKENIZER_ROLES)[number], string>>;

/** `models.list[].overrides`: each optional. */
export interface ModelOverridesConfig {
  readonly predictionType?: 'epsilon' | 'v_prediction';
  readonly scheduler?: string;
  readonly width?: number;
  readonly height?: number;
  readonly steps?: number;
  readonly guidanceScale?: number;
  /** SD3: `false` runs without the T5-XXL text encoder. */
  readonly t5?: boolean;
  /** Checkpoints, SD 1.x/2.x: the text layer from the end to condition on (A1111's clip skip). */
  readonly clipSkip?: number;
  /** Checkpoints: a standalone VAE `.safetensors` (absolute after loading) used instead of the model's. */
  readonly vae?: string;
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
    /**
     * Browser origins allowed to call the API (CORS), e.g. `https://app.example.com`; `*` for
     * any. Empty (the default): no CORS headers, preflights refused.
     */
    readonly corsOrigins: readonly string[];
    /**
     * Longest time a client may take to send a whole request (headers and body), answered `408`
     * past it: a body trickled a byte at a time (slowloris) would otherwise hold its connection
     * and buffers forever. Waiting for the answer is not counted.
     */
    readonly requestTimeoutSeconds: number;
  };
  readonly database: {
    readonly driver: 'sqlite' | 'postgres';
    /** `postgres://…` for PostgreSQL; a file path (relative to `dataDir`) or `:memory:` for SQLite. */
    readonly url: string;
  };
  /** Redis, shared by the nodes of a cluster (rate limits, in-flight limits); empty: none. */
  readonly redis: {
    /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
    readonly url: string;
    /** Namespaces the cluster's keys (queue, events), so deployments can share one Redis. */
    readonly prefix: string;
    /**
     * How long one Redis command may take before it fails: with Redis unreachable, a request
     * that needs it answers `503 QUEUE_UNAVAILABLE` after about this long instead of waiting for
     * Redis to come back.
     */
    readonly timeoutMs: number;
  };
  /** The distributed mode (`pictor api`, `pictor worker`). */
  readonly cluster: {
    /**
     * How long a worker node holds a job without renewing its lease (it renews three times as
     * often): a node that died or hung loses its job this long after, to another node.
     */
    readonly leaseMs: number;
  };
  readonly storage: {
    /**
     * Where results and uploads are kept: `local` (files under `dataDir`, the embedded mode's
     * default), `postgres` (the database itself: needs `database.driver: postgres`), or `s3` (an
     * S3-compatible bucket: `storage.s3`). A cluster's nodes all need the same `postgres` or `s3`.
     */
    readonly blobs: BlobStoreKind;
    readonly s3: {
      readonly bucket: string;
      /** Prepended to every object name, e.g. `pictor/`. */
      readonly prefix: string;
      readonly region: string;
      /** For S3-compatible servers (MinIO, R2, …); empty: AWS's endpoint for `region`. */
      readonly endpoint: string;
      /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers need. */
      readonly forcePathStyle: boolean;
      /** Both, or neither (then the AWS SDK's own chain: environment, profile, instance role). */
      readonly accessKeyId: string;
      readonly secretAccessKey: string;
    };
  };
  readonly models: {
    /** Name of the model used when a request names none. */
    readonly default: string;
    readonly list: readonly ModelConfig[];
    /**
     * The model library folder (absolute after loading; relative to `dataDir`): every
     * `.safetensors` file and every diffusers/ONNX folder in it is a model named after it. Pulls
     * land here (Hugging Face ones as links into the Hugging Face cache).
     */
    readonly dir: string;
    /** More folders scanned the same way (read only: pulls never write there). */
    readonly dirs: readonly string[];
    /**
     * Seconds an idle model stays loaded in a worker: -1 as long as `workers.memoryBudgetGb`
     * allows, 0 unloads after every batch. Per model: `keepAliveSeconds` in its list entry or sidecar.
     */
    readonly keepAliveSeconds: number;
    /** Models every worker loads at start instead of on first use. */
    readonly preload: readonly string[];
    /**
     * A generation naming a Hugging Face (`hf:org/repo`, `org/repo`) or CivitAI (`civitai:ID`)
     * model the library lacks pulls it first, the job waiting in `queued` meanwhile. Off: such a
     * request is refused with how to pull the model.
     */
    readonly pullOnRequest: boolean;
  };
  /** Where pulls come from. Tokens are sent to their own host only and never logged or echoed. */
  readonly sources: {
    readonly huggingFace: {
      /** `HF_ENDPOINT`. */
      readonly endpoint: string;
      /** `HF_TOKEN`, for gated and private repos. */
      readonly token: string;
      /** The shared Hugging Face cache: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
      readonly cacheDir: string;
    };
    readonly civitai: {
      readonly endpoint: string;
      /** `CIVITAI_TOKEN`, for files that need a login. */
      readonly token: string;
    };
    /** Attempts per file after a network failure (with doubling backoff) before a pull fails. */
    readonly retries: number;
    /** First retry delay; later ones double. */
    readonly retryBackoffMs: number;
    /** Files of one pull downloaded at once. */
    readonly parallelDownloads: number;
  };
  readonly workers: {
    /** One worker child process per device entry. */
    readonly devices: readonly WorkerDevice[];
    readonly engine: WorkerEngineKind;
    /** Milliseconds per step of the fake engine (`engine: fake`: tests and cluster benches). */
    readonly fakeStepMs: number;
    /** ONNX Runtime intra-op threads per worker; 0: the cores divided among the workers. */
    readonly intraOpThreads: number;
    /** Milliseconds to wait before restarting a worker that died. */
    readonly restartDelayMs: number;
    /**
     * Model weights (size on disk) one worker keeps loaded; the least recently used idle model is
     * unloaded to make room. 0 in the file means three quarters of the machine's memory.
     */
    readonly memoryBudgetGb: number;
    /**
     * A worker silent this long (no step done, no heartbeat) is hung: it is killed, its batch
     * retried once elsewhere. Bounds one engine step (and the VAE decode after the last).
     */
    readonly stepTimeoutMs: number;
    /**
     * Keep ONNX Runtime's optimized graph of each compiled checkpoint under the data dir, so a
     * second load skips the optimizer (minutes for an SD UNet on CPU), at the cost of disk about
     * the model's fp32 size.
     */
    readonly cacheOptimizedModels: boolean;
    /**
     * Low-memory mode: a model's text encoders are released after encoding and its VAE halves
     * after each use, so only the denoiser's session stays between batches (peak: the denoiser
     * plus the largest other component, not their sum), for the time to create those sessions
     * again each batch. A model's own `lowMemory` wins.
     */
    readonly lowMemory: boolean;
  };
  readonly queue: {
    /** Queued jobs beyond this are refused with `429` and `Retry-After`. */
    readonly maxQueued: number;
    /** Compatible queued jobs run as one engine batch up to this many jobs; 1 disables batching. */
    readonly maxBatch: number;
    /** Most images one job may ask for (`n`). */
    readonly maxImagesPerJob: number;
    /** Longest prompt (and negative prompt), in characters, on every route and dialect. */
    readonly maxPromptLength: number;
    /** A job still queued after this long is `expired` (and refunded). */
    readonly maxWaitSeconds: number;
  };
  /** Input images: uploads, and `init_image` / `mask` sent inline (stored as uploads too). */
  readonly uploads: {
    /**
     * Megabytes of unexpired uploads one key may hold (0 = no quota): a key with no credits could
     * otherwise fill the disk with free uploads. Over it, `507 UPLOAD_QUOTA_EXCEEDED`.
     */
    readonly quotaMbPerKey: number;
    /**
     * Most pixels (width × height, read from the image header before anything is decoded) an
     * input image may have: a 31 KB PNG can declare 16000×16000 and decode to 768 MB.
     */
    readonly maxPixels: number;
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
    /**
     * Log file under `dataDir` (absolute after loading), besides standard output; rolled over at
     * `fileMaxSizeMb` as `pictor.1.log`, `pictor.2.log`, … keeping the newest `fileKeep`. Empty:
     * standard output only.
     */
    readonly file: string;
    readonly fileMaxSizeMb: number;
    readonly fileKeep: number;
  };
  /**
   * An admin API key to create at start if it does not exist (`PICTOR_ADMIN_KEY`, for
   * automation). When empty, the first start with no keys creates one and prints it once.
   */
  readonly adminKey: string;
  readonly auth: {
    /** Require an API key (`Authorization: Bearer sk_…`); false serves everyone as `local`. */
    readonly enabled: boolean;
    /** `GET /v1/txt2img` works without a key (the link printed at start): free, limited per IP. */
    readonly keylessLink: boolean;
    /** Requests per minute per client address on the key-less link. */
    readonly keylessRateLimit: number;
    /** Jobs the key-less link may have queued or running at once (all clients together). */
    readonly keylessMaxJobs: number;
    /** Most steps a key-less request may ask for (the link is free: keep it cheap). */
    readonly keylessMaxSteps: number;
    /** Largest width and height of a key-less request; one image each, no `webhook_url`. */
    readonly keylessMaxSize: number;
    /** `GET /metrics` without a key; when false it needs an admin key. */
    readonly publicMetrics: boolean;
    /** Requests per minute of a new key when none is given (0 = unlimited). */
    readonly defaultRateLimit: number;
    /** Jobs a new key may have queued or running at once when none is given (0 = unlimited). */
    readonly defaultMaxJobs: number;
    /** End-user sign-up and login (`/v1/auth/*`); users manage their own keys. */
    readonly signup: boolean;
    /** Lifetime of a login token. */
    readonly sessionTtlSeconds: number;
    /** Keys a signed-up user may hold. */
    readonly maxKeysPerUser: number;
  };
  readonly credits: {
    /** Credits one image costs (`n` images cost n times this); per model via `models.list[].cost`. */
    readonly costPerImage: number;
  };
  readonly backups: {
    /** Where `POST /v1/admin/backup` and `pictor backup create` write (relative to `dataDir`). */
    readonly dir: string;
  };
  /** Signed image links (OpenAI `response_format: "url"`): fetched without an API key. */
  /**
   * The other servers' APIs Pictor also speaks, each at its own paths and switchable off: OpenAI's
   * Images API, AUTOMATIC1111's `/sdapi`, mflux-server's `/api/*`, the SDXL FastAPI server's
   * `POST /generate/{model}`.
   */
  readonly dialects: {
    readonly openai: boolean;
    readonly a1111: boolean;
    readonly mflux: boolean;
    readonly sdxlFastapi: boolean;
    /** irgolic/stable-diffusion-api: `/txt2img`, `/task`, `/blob`, `/events`, `/token`, `/user`. */
    readonly irgolic: boolean;
  };
  /** Options of the irgolic/stable-diffusion-api dialect (`dialects.irgolic`). */
  readonly irgolic: {
    /**
     * Its `ENABLE_PUBLIC_ACCESS`: its routes work without a key (as the key-less link: free,
     * limited per address by `auth.keylessRateLimit` / `keylessMaxJobs`), and `POST /token/all`
     * hands out public tokens.
     */
    readonly publicAccess: boolean;
    /**
     * Fetch `initial_image` / `mask` URLs that are not this server's own blobs. Off by default:
     * the server would otherwise fetch any URL a caller names (through the webhook SSRF guard).
     */
    readonly fetchImageUrls: boolean;
    /** Largest image fetched from a URL. */
    readonly imageUrlMaxMb: number;
    /** How long fetching one image URL may take. */
    readonly imageUrlTimeoutMs: number;
  };
  readonly links: {
    /** HMAC-SHA256 key; generated and stored as `link-secret` under `dataDir` when empty. */
    readonly secret: string;
    /** How long a link works. */
    readonly ttlSeconds: number;
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
    corsOrigins: [],
    requestTimeoutSeconds: 120,
  },
  database: { driver: 'sqlite', url: 'pictor.db' },
  redis: { url: '', prefix: 'pictor', timeoutMs: 3000 },
  cluster: { leaseMs: 30_000 },
  storage: {
    blobs: 'local',
    s3: {
      bucket: '',
      prefix: '',
      region: 'us-east-1',
      endpoint: '',
      forcePathStyle: false,
      accessKeyId: '',
      secretAccessKey: '',
    },
  },
  models: {
    default: 'tiny',
    list: [{ name: 'tiny', path: 'models/tiny' }],
    dir: 'models',
    dirs: [],
    keepAliveSeconds: -1,
    preload: [],
    pullOnRequest: false,
  },
  sources: {
    huggingFace: { endpoint: 'https://huggingface.co', token: '', cacheDir: '' },
    civitai: { endpoint: 'https://civitai.com', token: '' },
    retries: 5,
    retryBackoffMs: 1000,
    parallelDownloads: 4,
  },
  workers: {
    devices: ['cpu'],
    engine: 'onnx',
    intraOpThreads: 0,
    restartDelayMs: 500,
    fakeStepMs: 20,
    memoryBudgetGb: 0,
    stepTimeoutMs: 300_000,
    cacheOptimizedModels: true,
    lowMemory: false,
  },
  queue: {
    maxQueued: 1000,
    maxBatch: 4,
    maxImagesPerJob: 4,
    maxPromptLength: 10000,
    maxWaitSeconds: 3600,
  },
  uploads: { quotaMbPerKey: 256, maxPixels: 4096 * 4096 },
  results: { ttlSeconds: 3600, sweepIntervalSeconds: 60 },
  webhooks: {
    allowPrivateAddresses: false,
    secret: '',
    maxAttempts: 15,
    initialBackoffMs: 5000,
    timeoutMs: 10000,
  },
  log: { level: 'info', file: 'logs/pictor.log', fileMaxSizeMb: 20, fileKeep: 5 },
  adminKey: '',
  auth: {
    enabled: true,
    keylessLink: true,
    keylessRateLimit: 10,
    keylessMaxJobs: 2,
    keylessMaxSteps: 20,
    keylessMaxSize: 512,
    publicMetrics: true,
    defaultRateLimit: 60,
    defaultMaxJobs: 4,
    signup: false,
    sessionTtlSeconds: 3600,
    maxKeysPerUser: 5,
  },
  credits: { costPerImage: 1 },
  backups: { dir: 'backups' },
  dialects: { openai: true, a1111: true, mflux: true, sdxlFastapi: true, irgolic: true },
  irgolic: {
    publicAccess: false,
    fetchImageUrls: false,
    imageUrlMaxMb: 10,
    imageUrlTimeoutMs: 10_000,
  },
  links: { secret: '', ttlSeconds: 3600 },
};
