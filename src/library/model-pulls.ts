import { randomUUID } from 'node:crypto';
import { mkdir, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError } from '../errors/index.ts';
import { downloadFile, partialPath } from './download-file.ts';
import { formatBytes } from './format-bytes.ts';
import { formatModelRef } from './model-ref.ts';
import type { PullEvent, PullState, PullView } from './pull-event.ts';
import type { ModelSource, PlannedFile, PullPlan, PullRequest } from './pull-plan.ts';

export interface ModelPullsOptions {
  /** The source for each kind of reference. */
  readonly sourceFor: (request: PullRequest) => ModelSource;
  readonly retries: number;
  readonly retryBackoffMs: number;
  readonly parallelDownloads: number;
  /** Runs after a pull committed its model (the library rescans). */
  readonly onPulled: (name: string) => Promise<void>;
  /** How long a finished pull stays visible (its events can still be read). */
  readonly keepFinishedMs?: number;
}

/** A pull in progress or recently finished. */
export class Pull {
  readonly id = randomUUID();
  readonly source: string;
  readonly events: PullEvent[] = [];
  readonly controller = new AbortController();
  readonly done: Promise<string>;
  model: string | undefined;
  state: PullState = 'running';
  /** Bytes of every file the plan holds, once it is known (files seen so far before). */
  plannedBytes: number | undefined;
  readonly #files = new Map<string, { total: number; completed: number }>();
  readonly #listeners = new Set<(event: PullEvent) => void>();
  #lastEmit = new Map<string, number>();
  /** A file's newest progress held back by the rate limit, and the timer that sends it. */
  readonly #held = new Map<string, { event: PullEvent; timer: NodeJS.Timeout }>();

  constructor(source: string, run: (pull: Pull) => Promise<string>) {
    this.source = source;
    this.done = run(this);
    // Nobody may be waiting on `done`; failures are reported through events.
    this.done.catch(() => undefined);
  }

  emit(event: PullEvent): void {
    if (event.status === 'downloading') {
      this.#files.set(event.file, { total: event.total ?? 0, completed: event.completed });
      const now = Date.now();
      const finished = event.total !== undefined && event.completed >= event.total;
      // At most five lines a second per file, but always the first and the last; one held back
      // is sent when its file's window ends, so a download that stalls shows what arrived.
      const wait = 200 - (now - (this.#lastEmit.get(event.file) ?? 0));
      if (!finished && wait > 0) {
        const held = this.#held.get(event.file);
        if (held) held.event = event;
        else {
          const timer = setTimeout(() => {
            const latest = this.#held.get(event.file);
            this.#held.delete(event.file);
            if (latest) this.emit(latest.event);
          }, wait);
          timer.unref();
          this.#held.set(event.file, { event, timer });
        }
        return;
      }
      this.#lastEmit.set(event.file, now);
    }
    // A file's newer event, or the pull's end, makes what was held back for it stale.
    for (const [file, held] of this.#held) {
      const stale =
        event.status === 'success' ||
        event.status === 'error' ||
        ('file' in event && event.file === file);
      if (stale) {
        clearTimeout(held.timer);
        this.#held.delete(file);
      }
    }
    this.events.push(event);
    for (const listener of this.#listeners) listener(event);
  }

  /** Replays the events so far, then calls `listener` with each new one until unsubscribed. */
  subscribe(listener: (event: PullEvent) => void): () => void {
    for (const event of this.events) listener(event);
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  view(): PullView {
    let total = 0;
    let completed = 0;
    for (const file of this.#files.values()) {
      total += file.total;
      completed += file.completed;
    }
    const last = this.events.at(-1);
    return {
      id: this.id,
      source: this.source,
      model: this.model,
      state: this.state,
      total: this.plannedBytes ?? total,
      completed,
      error: last?.status === 'error' ? last.error : undefined,
    };
  }
}

async function sizeOrZero(file: string): Promise<number> {
  return stat(file).then(
    (s) => s.size,
    () => 0,
  );
}

/** Refuses a pull the disk cannot hold, before any byte is written. */
async function checkFreeSpace(files: readonly PlannedFile[]): Promise<void> {
  const needed = new Map<string, number>();
  for (const file of files) {
    if ((await sizeOrZero(file.dest)) > 0) continue;
    const bytes =
      (file.size ?? file.expectedBytes ?? 0) - (await sizeOrZero(partialPath(file.dest)));
    const dir = path.dirname(file.dest);
    needed.set(dir, (needed.get(dir) ?? 0) + Math.max(0, bytes));
  }
  for (const [dir, bytes] of needed) {
    await mkdir(dir, { recursive: true });
    const fs = await statfs(dir);
    const free = fs.bavail * fs.bsize;
    if (bytes > free) {
      throw new ProblemError(
        'INSUFFICIENT_STORAGE',
        `the model needs ${formatBytes(bytes)} more in ${dir} but only ${formatBytes(free)} is free; free some space (pictor models rm NAME) or move models.dir / HF_HUB_CACHE`,
      );
    }
  }
}

/**
 * The pulls in progress: one per model (a second request for the same model joins the first),
 * each cancellable, its files downloaded a few at a time and committed to the library only when
 * every file is verified.
 */
export class ModelPulls {
  readonly #o: ModelPullsOptions;
  readonly #byId = new Map<string, Pull>();
  readonly #running = new Map<string, Pull>();
  /** Files being downloaded by any pull: two pulls sharing a blob fetch it once. */
  readonly #files = new Map<string, Promise<void>>();

  constructor(options: ModelPullsOptions) {
    this.#o = options;
  }

  /** Starts a pull, or returns the running one for the same model or reference. */
  start(request: PullRequest): Pull {
    const key = request.name ?? formatModelRef(request.ref);
    const running =
      this.#running.get(key) ??
      (request.name === undefined ? undefined : this.#byModel(request.name));
    if (running) return running;
    const pull = new Pull(formatModelRef(request.ref), (p) => this.#run(p, request));
    this.#byId.set(pull.id, pull);
    this.#running.set(key, pull);
    void pull.done
      .catch(() => undefined)
      .finally(() => {
        this.#running.delete(key);
        setTimeout(() => this.#byId.delete(pull.id), this.#o.keepFinishedMs ?? 600_000).unref();
      });
    return pull;
  }

  #byModel(name: string): Pull | undefined {
    return [...this.#running.values()].find((p) => p.model === name);
  }

  get(id: string): Pull | undefined {
    return this.#byId.get(id);
  }

  /** Running pulls, by the model name they will create. */
  running(): readonly Pull[] {
    return [...this.#running.values()];
  }

  cancel(id: string): boolean {
    const pull = this.#byId.get(id);
    if (pull?.state !== 'running') return false;
    pull.controller.abort();
    return true;
  }

  /** Cancels every running pull (shutdown); their partial files stay for the next try. */
  async close(): Promise<void> {
    const pulls = this.running();
    for (const pull of pulls) pull.controller.abort();
    await Promise.all(pulls.map((p) => p.done.catch(() => undefined)));
  }

  async #run(pull: Pull, request: PullRequest): Promise<string> {
    const signal = pull.controller.signal;
    try {
      pull.emit({ status: 'pulling manifest', source: pull.source });
      const plan = await this.#o.sourceFor(request).plan(request, signal);
      const joined = this.#byModel(plan.name);
      if (joined && joined !== pull) {
        // Another reference to the same model is already downloading it: wait for that one.
        const name = await joined.done;
        pull.model = name;
        return this.#succeed(pull, name);
      }
      pull.model = plan.name;
      pull.plannedBytes = [...new Map(plan.files.map((f) => [f.dest, f])).values()].reduce(
        (sum, f) => sum + (f.size ?? f.expectedBytes ?? 0),
        0,
      );
      await checkFreeSpace(plan.files);
      await this.#download(pull, plan, signal);
      if (signal.aborted) throw new ProblemError('PULL_CANCELLED', 'the pull was cancelled');
      await plan.commit();
      await this.#o.onPulled(plan.name);
      return this.#succeed(pull, plan.name);
    } catch (error) {
      const problem =
        error instanceof ProblemError
          ? error
          : signal.aborted
            ? new ProblemError('PULL_CANCELLED', 'the pull was cancelled')
            : new ProblemError('MODEL_DOWNLOAD_FAILED', (error as Error).message);
      pull.state = problem.code === 'PULL_CANCELLED' ? 'cancelled' : 'failed';
      pull.emit({ status: 'error', code: problem.code, error: problem.message });
      throw problem;
    }
  }

  #succeed(pull: Pull, name: string): string {
    pull.state = 'succeeded';
    pull.emit({ status: 'success', model: name });
    return name;
  }

  async #download(pull: Pull, plan: PullPlan, signal: AbortSignal): Promise<void> {
    // Identical files (two components' equal configs) share one blob: fetch it once.
    const queue = [...new Map(plan.files.map((f) => [f.dest, f])).values()];
    // One failure stops the other files too; the first error is the one reported.
    const stop = new AbortController();
    const both = AbortSignal.any([signal, stop.signal]);
    const worker = async (): Promise<void> => {
      for (let file = queue.shift(); file; file = queue.shift()) {
        const total = file.size ?? file.expectedBytes;
        const label = file.label;
        const shared = this.#files.get(file.dest);
        if (shared) {
          await shared;
          continue;
        }
        const download = downloadFile(file, {
          signal: both,
          retries: this.#o.retries,
          backoffMs: this.#o.retryBackoffMs,
          onProgress: (completed) =>
            pull.emit({ status: 'downloading', file: label, total, completed }),
          onVerifying: () => pull.emit({ status: 'verifying', file: label }),
        });
        const dest = file.dest;
        this.#files.set(dest, download);
        try {
          await download;
        } finally {
          this.#files.delete(dest);
        }
      }
    };
    const workers = Array.from({ length: Math.min(this.#o.parallelDownloads, queue.length) }, () =>
      worker().catch((error: unknown) => {
        stop.abort();
        throw error;
      }),
    );
    const results = await Promise.allSettled(workers);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      const first = results
        .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        .map((r) => r.reason as unknown)
        .find((e) => !(e instanceof ProblemError && e.code === 'PULL_CANCELLED'));
      throw first ?? failed.reason;
    }
  }
}
