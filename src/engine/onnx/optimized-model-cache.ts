import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { arch, cpus, hostname } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { FileIdentity } from '../checkpoint/file-identity.ts';
import { ENGINE_VERSION } from '../version.ts';

/**
 * ONNX Runtime's optimized form of a compiled checkpoint graph, kept under
 * `CACHE_DIR/optimized/KEY/`. Optimizing is what a checkpoint's cold start pays for (the SD 1.5
 * UNet: minutes of ORT's graph transformers; building our graph takes about a second), and
 * ORT can write its result once: `model.onnx` with every initializer it folded, transposed or
 * fused in `model.data`. A later start loads that with optimization off.
 *
 * The key covers everything the optimized model depends on: the graph's own bytes (our builder,
 * its settings, quantization, and where each weight lives in the user's files), the size and
 * modification time of those files, ORT's version, the execution provider, and the CPU (the
 * optimized model may hold kernels laid out for this processor). An entry is used only when its
 * manifest matches the key and both files have the recorded size and SHA-256; anything else is
 * deleted and rebuilt. Entries are written under a temporary name and renamed into place; one
 * abandoned by a writer that died is removed ({@link abandoned}).
 */
const MANIFEST = 'manifest.json';
const MODEL_FILE = 'model.onnx';
const DATA_FILE = 'model.data';
const FORMAT = 1;
const PARTIAL = '.partial';

/**
 * How old a temporary folder of a writer that cannot be asked (another host's) must be to be
 * taken for abandoned. ORT writes nothing into it until it has finished optimizing, so its age
 * runs from its creation; a day is far beyond any optimization (minutes for an SD UNet on CPU).
 */
export const FOREIGN_PARTIAL_STALE_MS = 24 * 60 * 60 * 1000;

/** This host in a temporary folder's name: no dots, which separate the name's parts. */
const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '_') || 'unknown';

export interface OptimizedModelKeyParts {
  readonly graph: Uint8Array;
  readonly files: ReadonlyMap<string, FileIdentity>;
  readonly provider: string;
}

export function optimizedModelKey(parts: OptimizedModelKeyParts): string {
  const hash = createHash('sha256');
  hash.update(parts.graph);
  hash.update(
    JSON.stringify({
      format: FORMAT,
      engine: ENGINE_VERSION,
      ort: ort.env.versions.common,
      provider: parts.provider,
      cpu: `${arch()} ${cpus()[0]?.model ?? 'unknown'}`,
      files: [...parts.files].sort(([a], [b]) => a.localeCompare(b)),
    }),
  );
  return hash.digest('hex').slice(0, 32);
}

interface Manifest {
  readonly format: number;
  readonly key: string;
  /** What the entry is of: the component and the weight files, to retire it when they change. */
  readonly label: string;
  readonly sources: readonly string[];
  readonly files: Readonly<Record<string, { readonly size: number; readonly sha256: string }>>;
}

/** Where a new entry is written by ORT, and how it is committed or abandoned. */
export interface PendingOptimizedModel {
  /** ORT's `optimizedModelFilePath`. */
  readonly modelFile: string;
  /** ORT's `session.optimized_model_external_initializers_file_name` (beside `modelFile`). */
  readonly dataFileName: string;
  /** Records sizes and hashes and renames the entry into place. */
  commit(): Promise<void>;
  abandon(): Promise<void>;
}

export class OptimizedModelCache {
  readonly #root: string;

  constructor(cacheDir: string) {
    this.#root = path.join(cacheDir, 'optimized');
  }

  entryDir(key: string): string {
    return path.join(this.#root, key);
  }

  /** The entry's model file when it is whole and made for `key`; a damaged entry is deleted. */
  async open(key: string): Promise<string | undefined> {
    const dir = this.entryDir(key);
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as Manifest;
    } catch {
      // Missing (never built) or unreadable: either way, not an entry to trust.
      await rm(dir, { recursive: true, force: true });
      return undefined;
    }
    if (manifest.format !== FORMAT || manifest.key !== key || !(await whole(dir, manifest))) {
      await rm(dir, { recursive: true, force: true });
      return undefined;
    }
    return path.join(dir, MODEL_FILE);
  }

  async discard(key: string): Promise<void> {
    await rm(this.entryDir(key), { recursive: true, force: true });
  }

  /**
   * A temporary folder for ORT to write the optimized model of `label` (over the weight files
   * `sources`) into. Committing it retires older entries of the same component and files.
   */
  async prepare(
    key: string,
    label: string,
    sources: readonly string[],
  ): Promise<PendingOptimizedModel> {
    const final = this.entryDir(key);
    await this.#removeAbandoned();
    // KEY.HOST.PID.RANDOM.partial: who writes it, so others can tell when it was abandoned.
    const writer = `${HOST}.${process.pid}.${randomBytes(4).toString('hex')}`;
    const temporary = `${final}.${writer}${PARTIAL}`;
    await mkdir(temporary, { recursive: true });
    return {
      modelFile: path.join(temporary, MODEL_FILE),
      dataFileName: DATA_FILE,
      commit: async () => {
        const files: Record<string, { size: number; sha256: string }> = {};
        for (const name of [MODEL_FILE, DATA_FILE]) {
          const file = path.join(temporary, name);
          // ORT writes no data file when every initializer is small enough to stay inline.
          const size = await stat(file).then(
            (stats) => stats.size,
            () => undefined,
          );
          if (size !== undefined) files[name] = { size, sha256: await sha256(file) };
        }
        const manifest: Manifest = { format: FORMAT, key, label, sources: [...sources], files };
        await writeFile(path.join(temporary, MANIFEST), JSON.stringify(manifest, null, 2));
        // Another process may have committed the same key meanwhile: its entry is as good.
        await rm(final, { recursive: true, force: true });
        await rename(temporary, final);
        await this.#retireOthers(manifest);
      },
      abandon: () => rm(temporary, { recursive: true, force: true }),
    };
  }

  /** Removes the temporary folders their writers abandoned (a killed process leaves one). */
  async #removeAbandoned(): Promise<void> {
    const names = await readdir(this.#root).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith(PARTIAL)) continue;
      const dir = path.join(this.#root, name);
      const modified = await stat(dir).then(
        (stats) => stats.mtimeMs,
        () => undefined,
      );
      if (modified !== undefined && abandoned(name, modified, Date.now())) {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }

  /** Entries of the same component over the same files under another key can never match again. */
  async #retireOthers(current: Manifest): Promise<void> {
    const names = await readdir(this.#root).catch(() => [] as string[]);
    for (const name of names) {
      if (name === current.key || name.endsWith('.partial')) continue;
      const other = await readFile(path.join(this.#root, name, MANIFEST), 'utf8')
        .then((text) => JSON.parse(text) as Manifest)
        .catch(() => undefined);
      if (
        other?.label === current.label &&
        other.sources.join('\n') === current.sources.join('\n')
      ) {
        await rm(path.join(this.#root, name), { recursive: true, force: true });
      }
    }
  }
}

/**
 * Whether the temporary folder `name` (`KEY.HOST.PID.RANDOM.partial`, last modified at
 * `modifiedMs`) was abandoned. Several worker processes share one data dir — the workers of one
 * server always, cluster nodes when a volume is shared — and each may be optimizing right now,
 * for minutes, without touching its folder; removing a live writer's folder would fail its save.
 * So: a writer on this host is asked directly — its folder goes as soon as its process is gone
 * (a killed worker's, at the next load), and stays while it runs however long it takes (a
 * reused process id only keeps a dead folder longer). A writer on another host sharing the
 * folder cannot be asked, nor can an unreadable name: only {@link FOREIGN_PARTIAL_STALE_MS} of
 * age tells. Processes sharing a data dir across machines or containers need distinct host
 * names (containers have their own by default), since process ids repeat between them.
 */
function abandoned(name: string, modifiedMs: number, nowMs: number): boolean {
  const [, host, pid] = name.split('.');
  if (host === HOST && pid !== undefined && /^[1-9]\d*$/.test(pid)) return !running(Number(pid));
  return nowMs - modifiedMs > FOREIGN_PARTIAL_STALE_MS;
}

/** Whether a process with this id runs on this host. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function whole(dir: string, manifest: Manifest): Promise<boolean> {
  if (!manifest.files[MODEL_FILE]) return false;
  for (const [name, expected] of Object.entries(manifest.files)) {
    const file = path.join(dir, name);
    try {
      if ((await stat(file)).size !== expected.size) return false;
      if ((await sha256(file)) !== expected.sha256) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
