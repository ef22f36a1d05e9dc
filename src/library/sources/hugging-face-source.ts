import { mkdir, readFile, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import type { ListFileEntry } from '@huggingface/hub';
import { ProblemError } from '../../errors/index.ts';
import { chooseRepoFiles, type ChosenFiles } from '../choose-repo-files.ts';
import { HfCache } from '../hf-cache.ts';
import { modelNameFrom, type ModelSidecar } from '../library-model.ts';
import { missingComponents } from '../missing-components.ts';
import { writeSidecar } from '../model-folder.ts';
import { formatModelRef, type ModelRef } from '../model-ref.ts';
import type { ModelSource, PlannedFile, PullPlan, PullRequest } from '../pull-plan.ts';

export interface HuggingFaceSourceOptions {
  readonly endpoint: string;
  readonly token: string;
  readonly cacheDir: string;
  /** The library folder the model is linked into. */
  readonly libraryDir: string;
  /** Prefer `fp16` safetensors variants (a GPU device). */
  readonly preferFp16: boolean;
}

type HfRef = Extract<ModelRef, { kind: 'huggingface' }>;

const AUTH_HINT =
  'set HF_TOKEN (or sources.huggingFace.token) to a token that can read this repo; a gated repo also needs its terms accepted on the site';

function sourceError(error: unknown, ref: HfRef, host: string): unknown {
  const status = (error as { statusCode?: number }).statusCode;
  if (status === 401 || status === 403)
    return new ProblemError(
      'MODEL_SOURCE_UNAUTHORIZED',
      `${status} from ${host} for ${ref.repo}: ${AUTH_HINT}`,
    );
  if (status === 404)
    return new ProblemError(
      'MODEL_SOURCE_NOT_FOUND',
      `no such repo or revision on ${host}: ${ref.repo}@${ref.revision}`,
    );
  if (status !== undefined)
    return new ProblemError('MODEL_DOWNLOAD_FAILED', `HTTP ${status} from ${host} for ${ref.repo}`);
  return new ProblemError(
    'MODEL_DOWNLOAD_FAILED',
    `${host} could not be reached for ${ref.repo} (${(error as Error).message}); check the network or HF_ENDPOINT`,
  );
}

/** Hugging Face's own id of a file's content: the LFS sha256, else the Git blob hash. */
function etagOf(entry: ListFileEntry): string {
  return entry.lfs?.oid ?? entry.oid ?? '';
}

/**
 * {@link ModelSource} for Hugging Face repos, through `@huggingface/hub`, into the shared
 * Hugging Face cache. A revision already in the cache with its model files is used with no
 * network call. The model is linked into the library as `NAME` → its snapshot folder.
 */
export class HuggingFaceSource implements ModelSource {
  readonly #o: HuggingFaceSourceOptions;

  constructor(options: HuggingFaceSourceOptions) {
    this.#o = options;
  }

  async plan(request: PullRequest): Promise<PullPlan> {
    const ref = request.ref as HfRef;
    const cache = HfCache.forRepo(this.#o.cacheDir, ref.repo);
    const name =
      request.name ??
      modelNameFrom(ref.subpath.split('/').pop() || ref.repo.split('/')[1] || ref.repo);
    const cached = await this.#cached(cache, ref);
    if (cached) return this.#plan(name, ref, cache, cached.commit, cached.chosen, []);
    const host = new URL(this.#o.endpoint).host;
    const credentials = {
      hubUrl: this.#o.endpoint,
      ...(this.#o.token === '' ? {} : { accessToken: this.#o.token }),
    };
    let commit: string;
    const entries: ListFileEntry[] = [];
    // Loaded on the first network pull only: the server's start does not pay for it.
    const { listFiles, modelInfo } = await import('@huggingface/hub');
    try {
      const info = await modelInfo({
        name: ref.repo,
        revision: ref.revision,
        additionalFields: ['sha'],
        ...credentials,
      });
      commit = String(info.sha);
      for await (const entry of listFiles({
        repo: { type: 'model', name: ref.repo },
        revision: commit,
        recursive: true,
        ...credentials,
      })) {
        if (entry.type === 'file') entries.push(entry);
      }
    } catch (error) {
      throw sourceError(error, ref, host);
    }
    const chosen = chooseRepoFiles(
      entries.map((e) => e.path),
      ref.subpath,
      this.#o.preferFp16,
    );
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const headers: Record<string, string> =
      this.#o.token === '' ? {} : { authorization: `Bearer ${this.#o.token}` };
    const files = chosen.files.map((file): PlannedFile & { etag: string } => {
      const entry = byPath.get(file);
      const etag = entry ? etagOf(entry) : '';
      return {
        url: `${this.#o.endpoint}/${ref.repo}/resolve/${commit}/${file.split('/').map(encodeURIComponent).join('/')}`,
        dest: cache.blob(etag),
        size: entry?.lfs?.size ?? entry?.size,
        expectedBytes: undefined,
        digest: entry?.lfs
          ? { algorithm: 'sha256', hex: entry.lfs.oid }
          : entry?.oid
            ? { algorithm: 'git-sha1', hex: entry.oid }
            : undefined,
        headers,
        label: `${ref.repo}/${file}`,
        host,
        authHint: AUTH_HINT,
        etag,
      };
    });
    return this.#plan(name, ref, cache, commit, chosen, files);
  }

  /** A revision the cache already holds with a usable model (no network). */
  async #cached(
    cache: HfCache,
    ref: HfRef,
  ): Promise<{ commit: string; chosen: ChosenFiles } | undefined> {
    const commit = await cache.commitOf(ref.revision);
    if (commit === undefined) return undefined;
    const files = await cache.files(commit);
    try {
      const chosen = chooseRepoFiles(files, ref.subpath, this.#o.preferFp16);
      const weights = chosen.files.some((f) => /\.(onnx|safetensors)$/.test(f));
      if (!weights) return undefined;
      if (chosen.root.endsWith('.safetensors')) return { commit, chosen };
      // A snapshot another tool left half-way is completed over the network, not served.
      const index = JSON.parse(
        await readFile(path.join(cache.snapshot(commit), chosen.root, 'model_index.json'), 'utf8'),
      ) as Record<string, unknown>;
      return missingComponents(index, chosen.root, files).length === 0
        ? { commit, chosen }
        : undefined;
    } catch {
      return undefined;
    }
  }

  #plan(
    name: string,
    ref: HfRef,
    cache: HfCache,
    commit: string,
    chosen: ChosenFiles,
    files: readonly (PlannedFile & { etag: string })[],
  ): PullPlan {
    const libraryDir = this.#o.libraryDir;
    return {
      name,
      files,
      async commit() {
        await mkdir(libraryDir, { recursive: true });
        for (const file of files)
          await cache.link(commit, file.label.slice(ref.repo.length + 1), file.etag);
        await cache.writeRef(ref.revision, commit);
        const target = path.join(cache.snapshot(commit), chosen.root);
        const link = path.join(
          libraryDir,
          chosen.root.endsWith('.safetensors') ? `${name}.safetensors` : name,
        );
        const sidecar: ModelSidecar = {
          source: formatModelRef(ref),
          pulledAt: new Date().toISOString(),
        };
        await writeSidecar(libraryDir, name, sidecar);
        await rm(link, { force: true });
        await symlink(target, link);
      },
    };
  }
}
