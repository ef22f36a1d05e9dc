import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { lstat, rm } from 'node:fs/promises';
import path from 'node:path';
import type { PictorConfig } from '../config/index.ts';
import { ProblemError } from '../errors/index.ts';
import { HfCache } from './hf-cache.ts';
import type { LibraryModel } from './library-model.ts';
import {
  describeModelPath,
  readSidecar,
  scanModelFolder,
  sidecarPath,
  writeSidecar,
} from './model-folder.ts';
import { parseModelRef } from './model-ref.ts';
import { applySidecarSettings } from './sidecar-settings.ts';
import { ModelPulls, type Pull } from './model-pulls.ts';
import type { ModelSource, PullRequest } from './pull-plan.ts';
import { CivitaiSource } from './sources/civitai-source.ts';
import { HuggingFaceSource } from './sources/hugging-face-source.ts';
import { LocalSource } from './sources/local-source.ts';
import { UrlSource } from './sources/url-source.ts';

export interface ModelLibraryOptions {
  /** True while jobs are queued or running on the model: `remove` refuses then. */
  readonly inUse?: (name: string) => boolean;
  /** Base for relative local paths in pull references. */
  readonly cwd?: string;
}

function sameModels(a: readonly LibraryModel[], b: readonly LibraryModel[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The models with each name meaning one model: an alias that is another model's name, or an
 * earlier model's alias, is dropped (configured models come first, so theirs win; pictor.yaml's
 * own duplicates are refused when the config loads).
 */
function withoutTakenAliases(models: readonly LibraryModel[]): LibraryModel[] {
  const taken = new Set(models.map((m) => m.name));
  return models.map((model) => {
    if (model.aliases === undefined) return model;
    const aliases = model.aliases.filter((alias) => !taken.has(alias));
    for (const alias of aliases) taken.add(alias);
    return { ...model, aliases };
  });
}

/**
 * Pictor's models: the `models.list` entries plus every model in `models.dir` and `models.dirs`,
 * rescanned on `scan()`, after a pull, and (with `watch()`) when the folder changes. Listeners
 * hear each change, so workers serve a new model — or stop serving a removed one — without a
 * restart.
 */
export class ModelLibrary {
  readonly pulls: ModelPulls;
  readonly #config: PictorConfig;
  readonly #o: ModelLibraryOptions;
  readonly #listeners = new Set<(models: readonly LibraryModel[]) => void>();
  #models: readonly LibraryModel[] = [];
  #watcher: FSWatcher | undefined;
  #rescan: NodeJS.Timeout | undefined;

  constructor(config: PictorConfig, options: ModelLibraryOptions = {}) {
    this.#config = config;
    this.#o = options;
    const dir = config.models.dir;
    const hf = config.sources.huggingFace;
    const sources: Record<PullRequest['ref']['kind'], ModelSource> = {
      huggingface: new HuggingFaceSource({
        ...hf,
        libraryDir: dir,
        preferFp16: config.workers.devices.every((d) => d !== 'cpu'),
      }),
      civitai: new CivitaiSource({ ...config.sources.civitai, libraryDir: dir }),
      url: new UrlSource(dir),
      local: new LocalSource(dir),
    };
    this.pulls = new ModelPulls({
      sourceFor: (request) => sources[request.ref.kind],
      retries: config.sources.retries,
      retryBackoffMs: config.sources.retryBackoffMs,
      parallelDownloads: config.sources.parallelDownloads,
      onPulled: async () => {
        await this.scan();
      },
    });
  }

  /** The models as of the last scan. */
  list(): readonly LibraryModel[] {
    return this.#models;
  }

  get(name: string): LibraryModel | undefined {
    return this.#models.find((m) => m.name === name);
  }

  /** The other names requests may use for model `name`. */
  aliasesOf(name: string): readonly string[] {
    return this.get(name)?.aliases ?? [];
  }

  onChange(listener: (models: readonly LibraryModel[]) => void): void {
    this.#listeners.add(listener);
  }

  /** Reads the configured models and the model folders again; tells listeners when that changed. */
  async scan(): Promise<readonly LibraryModel[]> {
    const models: LibraryModel[] = [];
    for (const entry of this.#config.models.list) {
      const found = await describeModelPath(entry.name, entry.path, {});
      models.push({
        name: entry.name,
        path: entry.path,
        format: found?.format ?? 'onnx',
        source: undefined,
        family: undefined,
        sizeBytes: found?.sizeBytes ?? 0,
        cost: entry.cost,
        keepAliveSeconds: entry.keepAliveSeconds,
        quantization: entry.quantization,
        ...(entry.lowMemory === undefined ? {} : { lowMemory: entry.lowMemory }),
        ...(entry.tokenizers === undefined ? {} : { tokenizers: entry.tokenizers }),
        ...(entry.aliases === undefined ? {} : { aliases: entry.aliases }),
        origin: 'config',
      });
    }
    for (const dir of [this.#config.models.dir, ...this.#config.models.dirs]) {
      for (const model of await scanModelFolder(dir)) {
        if (!models.some((m) => m.name === model.name)) models.push(model);
      }
    }
    const unambiguous = withoutTakenAliases(models);
    if (!sameModels(unambiguous, this.#models)) {
      this.#models = unambiguous;
      for (const listener of this.#listeners) listener(unambiguous);
    }
    return unambiguous;
  }

  /** Starts pulling `source` (see `parseModelRef`), or joins the pull already under way. */
  pull(
    source: string,
    options: { name?: string | undefined; revision?: string | undefined } = {},
  ): Pull {
    const ref = parseModelRef(source, {
      revision: options.revision,
      ...(this.#o.cwd === undefined ? {} : { cwd: this.#o.cwd }),
    });
    if (options.name !== undefined && !/^[a-zA-Z0-9._-]{1,64}$/.test(options.name)) {
      throw new ProblemError(
        'VALIDATION_FAILED',
        'name: letters, digits, ".", "_" and "-" only (64 at most)',
        { field: 'name' },
      );
    }
    return this.pulls.start({ ref, name: options.name });
  }

  /**
   * Removes a library model and frees its disk: its file, or its Hugging Face snapshot and the
   * blobs no other snapshot uses. A linked local folder is unlinked, never deleted. Refused while
   * jobs are queued or running on it, and for `models.list` entries (edit pictor.yaml instead).
   */
  async remove(name: string): Promise<LibraryModel> {
    await this.scan();
    const model = this.#writable(name);
    if (this.#o.inUse?.(name))
      throw new ProblemError(
        'MODEL_IN_USE',
        `jobs are queued or running on '${name}'; remove it once they finish`,
      );
    const info = await lstat(model.path);
    if (info.isSymbolicLink()) {
      const snapshot = await HfCache.ofLink(model.path);
      await rm(model.path, { force: true });
      if (snapshot && !(await this.#snapshotLinked(snapshot.cache.repoDir, snapshot.commit)))
        await snapshot.cache.removeSnapshot(snapshot.commit);
    } else {
      await rm(model.path, { recursive: true, force: true });
    }
    await rm(sidecarPath(this.#config.models.dir, name), { force: true });
    await this.scan();
    return model;
  }

  /**
   * Changes a library model's settings in its sidecar (`cost=2`, `keepAliveSeconds=-1`,
   * `family=sdxl`, `tokenizers.t5=DIR` from the working directory; `key=` removes one). A running server picks the change up from the folder.
   */
  async configure(name: string, assignments: readonly string[]): Promise<LibraryModel> {
    await this.scan();
    const model = this.#writable(name);
    const dir = path.dirname(model.path);
    const sidecar = applySidecarSettings(
      await readSidecar(sidecarPath(dir, name)),
      assignments,
      this.#o.cwd ?? process.cwd(),
    );
    await writeSidecar(dir, name, sidecar);
    await this.scan();
    return this.get(name) ?? model;
  }

  /** A library model Pictor may change: found in `models.dir`, not configured in pictor.yaml. */
  #writable(name: string): LibraryModel {
    const model = this.get(name);
    if (!model) throw new ProblemError('MODEL_NOT_FOUND', `no model named '${name}'`);
    if (model.origin === 'config')
      throw new ProblemError(
        'FORBIDDEN',
        `'${name}' is configured in models.list; change it in pictor.yaml instead`,
      );
    if (path.dirname(model.path) !== this.#config.models.dir)
      throw new ProblemError(
        'FORBIDDEN',
        `'${name}' is in ${path.dirname(model.path)} (models.dirs), which Pictor does not write to`,
      );
    return model;
  }

  /** Another library model still links into this snapshot (two subfolders of one repo). */
  async #snapshotLinked(repoDir: string, commit: string): Promise<boolean> {
    for (const model of this.#models) {
      const other = await HfCache.ofLink(model.path);
      if (other?.commit === commit && other.cache.repoDir === repoDir) return true;
    }
    return false;
  }

  /** Rescans when something in `models.dir` changes (a pull by the CLI, a file copied in). */
  watch(onError: (error: unknown) => void): void {
    try {
      mkdirSync(this.#config.models.dir, { recursive: true });
      this.#watcher = watch(this.#config.models.dir, () => {
        clearTimeout(this.#rescan);
        this.#rescan = setTimeout(() => void this.scan().catch(onError), 300);
      });
      this.#watcher.on('error', onError);
    } catch (error) {
      onError(error);
    }
  }

  async close(): Promise<void> {
    this.#watcher?.close();
    clearTimeout(this.#rescan);
    await this.pulls.close();
  }
}
