import type {
  ModelComponentsConfig,
  ModelOverridesConfig,
  ModelTokenizersConfig,
} from '../../config/config.ts';
import type { QuantizationSetting } from '../../config/quantization-setting.ts';

/** A model a worker may serve, as the parent process describes it. */
export interface WorkerModel {
  readonly name: string;
  readonly path: string;
  /** What `models.list[].overrides` says over the model's own files. */
  readonly overrides?: ModelOverridesConfig | undefined;
  /** `models.list[].components`: the text encoder and VAE files of a transformer-only file. */
  readonly components?: ModelComponentsConfig | undefined;
  /** `models.list[].tokenizers`: T5's and Qwen3's tokenizer folders, over the model's own. */
  readonly tokenizers?: ModelTokenizersConfig | undefined;
  /** Linear weights of a checkpoint in float (`none`, the default), int8 or int4. */
  readonly quantization?: QuantizationSetting | undefined;
  /** Weights on disk: what loading it is expected to cost in memory. */
  readonly sizeBytes: number;
  /** The source's family hint (CivitAI's base model) for a model described before loading. */
  readonly family: string | undefined;
  /** Seconds it stays loaded while idle; -1 while the budget allows, 0 unloads after each batch. */
  readonly keepAliveSeconds: number;
  /**
   * Low-memory mode (`workers.lowMemory`, or the model's own): text encoders and VAE released
   * after each use. Absent: off.
   */
  readonly lowMemory?: boolean;
}

export interface ModelCacheOptions<T> {
  /** Bytes of model weights the worker keeps loaded at most. */
  readonly budgetBytes: number;
  readonly load: (model: WorkerModel) => Promise<T>;
  readonly unload: (loaded: T) => Promise<void>;
  /** A model was loaded or unloaded. */
  readonly onChange: () => void;
}

interface Entry<T> {
  readonly model: WorkerModel;
  readonly loaded: Promise<T>;
  users: number;
  lastUsed: number;
  timer: NodeJS.Timeout | undefined;
  /** Removed (or unloaded by hand) while in use: unloaded when the last user is done. */
  doomed: boolean;
  /** Resolves once a doomed entry is unloaded. */
  gone: Promise<void> | undefined;
  resolveGone: () => void;
}

const GB = 1024 ** 3;

/**
 * The models loaded in one worker: loaded on first use, kept while `budgetBytes` allows (the
 * least recently used idle model is unloaded to make room) or until their keep-alive runs out.
 * A model in use is never unloaded under its batch.
 */
export class ModelCache<T> {
  readonly #o: ModelCacheOptions<T>;
  readonly #entries = new Map<string, Entry<T>>();
  /** Orders uses (two in one millisecond must still compare). */
  #clock = 0;

  constructor(options: ModelCacheOptions<T>) {
    this.#o = options;
  }

  isLoaded(name: string): boolean {
    return this.#entries.has(name);
  }

  /** Loads (or finds) a model and marks it in use until `release`. Rejects when it cannot load. */
  async acquire(model: WorkerModel): Promise<T> {
    let entry = this.#entries.get(model.name);
    if (entry && entry.model.path !== model.path) {
      await this.remove(model.name);
      entry = undefined;
    }
    if (!entry) {
      if (model.sizeBytes > this.#o.budgetBytes) {
        throw new Error(
          `model '${model.name}' needs about ${(model.sizeBytes / GB).toFixed(2)} GB, more than workers.memoryBudgetGb (${(this.#o.budgetBytes / GB).toFixed(2)} GB)`,
        );
      }
      await this.#makeRoom(model.sizeBytes);
      entry = {
        model,
        loaded: this.#o.load(model),
        users: 0,
        lastUsed: ++this.#clock,
        timer: undefined,
        doomed: false,
        gone: undefined,
        resolveGone: () => undefined,
      };
      this.#entries.set(model.name, entry);
      try {
        await entry.loaded;
      } catch (error) {
        this.#entries.delete(model.name);
        throw error;
      }
      this.#o.onChange();
    }
    clearTimeout(entry.timer);
    entry.users++;
    entry.lastUsed = ++this.#clock;
    return entry.loaded;
  }

  /** The batch is done with the model: it stays loaded for its keep-alive. */
  release(name: string): void {
    const entry = this.#entries.get(name);
    if (!entry) return;
    entry.users--;
    entry.lastUsed = ++this.#clock;
    if (entry.users > 0) return;
    if (entry.doomed || entry.model.keepAliveSeconds === 0) {
      void this.#unload(name);
      return;
    }
    if (entry.model.keepAliveSeconds > 0) {
      entry.timer = setTimeout(() => void this.#unload(name), entry.model.keepAliveSeconds * 1000);
      entry.timer.unref();
    }
  }

  /** Unloads a model now, or when its running batch ends (without waiting for that). */
  async remove(name: string): Promise<void> {
    const entry = this.#entries.get(name);
    if (!entry) return;
    if (entry.users > 0) entry.doomed = true;
    else await this.#unload(name);
  }

  /** Unloads a model now, or once its running batch ends: resolves when it is unloaded. */
  async unload(name: string): Promise<void> {
    const entry = this.#entries.get(name);
    if (!entry) return;
    if (entry.users === 0) return this.#unload(name);
    entry.doomed = true;
    entry.gone ??= new Promise((resolve) => (entry.resolveGone = resolve));
    return entry.gone;
  }

  async #makeRoom(bytes: number): Promise<void> {
    const used = (): number =>
      [...this.#entries.values()].reduce((sum, e) => sum + e.model.sizeBytes, 0);
    while (used() + bytes > this.#o.budgetBytes) {
      const idle = [...this.#entries.values()]
        .filter((e) => e.users === 0)
        .sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (!idle) return; // everything loaded is in use: load anyway rather than fail the batch
      await this.#unload(idle.model.name);
    }
  }

  async #unload(name: string): Promise<void> {
    const entry = this.#entries.get(name);
    if (!entry || entry.users > 0) return;
    clearTimeout(entry.timer);
    this.#entries.delete(name);
    await this.#o.unload(await entry.loaded);
    this.#o.onChange();
    entry.resolveGone();
  }

  async dispose(): Promise<void> {
    for (const name of [...this.#entries.keys()]) {
      const entry = this.#entries.get(name);
      if (entry) entry.users = 0;
      await this.#unload(name);
    }
  }
}
