import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError } from '../../errors/index.ts';
import { modelNameFrom, type ModelSidecar } from '../library-model.ts';
import { writeSidecar } from '../model-folder.ts';
import type { ModelRef } from '../model-ref.ts';
import type { ModelSource, PullPlan, PullRequest } from '../pull-plan.ts';

export interface CivitaiSourceOptions {
  readonly endpoint: string;
  readonly token: string;
  readonly libraryDir: string;
}

/** The parts of CivitAI's `GET /api/v1/model-versions/{id}` (and a model's versions) used here. */
interface CivitaiFile {
  readonly name: string;
  readonly type?: string;
  readonly primary?: boolean;
  readonly sizeKB?: number;
  readonly metadata?: { readonly format?: string };
  readonly hashes?: { readonly SHA256?: string };
  readonly downloadUrl: string;
}

interface CivitaiVersion {
  readonly id: number;
  readonly modelId?: number;
  readonly name?: string;
  readonly baseModel?: string;
  readonly files: readonly CivitaiFile[];
}

type CivitaiRef = Extract<ModelRef, { kind: 'civitai' }>;

const AUTH_HINT =
  'set CIVITAI_TOKEN (or sources.civitai.token) to an API key from civitai.com/user/account';

/** CivitAI's base model → the engine's family name, as a hint until the file is read. */
export function familyOfBaseModel(baseModel: string | undefined): string | undefined {
  if (baseModel === undefined) return undefined;
  if (/^SD ?[12]/i.test(baseModel)) return 'sd';
  if (/SDXL|Pony|Illustrious|NoobAI/i.test(baseModel)) return 'sdxl';
  return baseModel.toLowerCase().replace(/[^a-z0-9.]+/g, '-');
}

/**
 * {@link ModelSource} for CivitAI through its public REST API: model → versions → files. The
 * version's primary safetensors file is downloaded to `NAME.safetensors` in the library and
 * checked against its published SHA256; the base model becomes the family hint.
 */
export class CivitaiSource implements ModelSource {
  readonly #o: CivitaiSourceOptions;

  constructor(options: CivitaiSourceOptions) {
    this.#o = options;
  }

  get #headers(): Record<string, string> {
    return this.#o.token === '' ? {} : { authorization: `Bearer ${this.#o.token}` };
  }

  async #get<T>(apiPath: string, what: string): Promise<T> {
    const host = new URL(this.#o.endpoint).host;
    let response: Response;
    try {
      response = await fetch(`${this.#o.endpoint}${apiPath}`, {
        headers: { accept: 'application/json', ...this.#headers },
      });
    } catch (error) {
      throw new ProblemError(
        'MODEL_DOWNLOAD_FAILED',
        `${host} could not be reached (${(error as Error).message}); check the network or sources.civitai.endpoint`,
      );
    }
    if (response.status === 401 || response.status === 403)
      throw new ProblemError(
        'MODEL_SOURCE_UNAUTHORIZED',
        `${response.status} from ${host} for ${what}: ${AUTH_HINT}`,
      );
    if (response.status === 404)
      throw new ProblemError('MODEL_SOURCE_NOT_FOUND', `no such ${what} on ${host}`);
    if (!response.ok)
      throw new ProblemError(
        'MODEL_DOWNLOAD_FAILED',
        `HTTP ${response.status} from ${host} for ${what}`,
      );
    return (await response.json()) as T;
  }

  async #version(ref: CivitaiRef): Promise<CivitaiVersion> {
    if (ref.versionId !== undefined)
      return this.#get(`/api/v1/model-versions/${ref.versionId}`, `model version ${ref.versionId}`);
    const model = await this.#get<{ modelVersions?: readonly CivitaiVersion[] }>(
      `/api/v1/models/${ref.modelId}`,
      `model ${ref.modelId}`,
    );
    const latest = model.modelVersions?.[0];
    if (!latest)
      throw new ProblemError('MODEL_SOURCE_NOT_FOUND', `model ${ref.modelId} has no versions`);
    return latest;
  }

  async plan(request: PullRequest): Promise<PullPlan> {
    const ref = request.ref as CivitaiRef;
    const version = await this.#version(ref);
    const models = version.files.filter((f) => (f.type ?? 'Model') === 'Model');
    const file = models.find((f) => f.primary) ?? models[0];
    if (!file)
      throw new ProblemError('MODEL_SOURCE_NOT_FOUND', `version ${version.id} has no model file`);
    if (
      !file.name.endsWith('.safetensors') ||
      (file.metadata?.format ?? 'SafeTensor') !== 'SafeTensor'
    ) {
      throw new ProblemError(
        'MODEL_SOURCE_INVALID',
        `version ${version.id}'s file ${file.name} is not .safetensors (pickles are never loaded); pick a version with a SafeTensor file`,
        { field: 'source' },
      );
    }
    const name = request.name ?? modelNameFrom(file.name);
    const libraryDir = this.#o.libraryDir;
    await mkdir(libraryDir, { recursive: true });
    const sha256 = file.hashes?.SHA256?.toLowerCase();
    const sidecar: ModelSidecar = {
      source: `civitai:${version.modelId ?? ref.modelId ?? '?'}@${version.id}`,
      ...(version.baseModel === undefined ? {} : { family: familyOfBaseModel(version.baseModel) }),
      pulledAt: new Date().toISOString(),
    };
    return {
      name,
      files: [
        {
          url: file.downloadUrl,
          dest: path.join(libraryDir, `${name}.safetensors`),
          // sizeKB is rounded: the hash is what proves the file.
          size: undefined,
          digest: sha256 ? { algorithm: 'sha256', hex: sha256 } : undefined,
          headers: this.#headers,
          label: file.name,
          host: new URL(file.downloadUrl).host,
          authHint: AUTH_HINT,
          expectedBytes: file.sizeKB === undefined ? undefined : Math.round(file.sizeKB * 1024),
        },
      ],
      async commit() {
        await writeSidecar(libraryDir, name, sidecar);
      },
    };
  }
}
