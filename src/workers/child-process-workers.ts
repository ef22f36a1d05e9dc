import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type {
  BatchOutcome,
  BatchProgress,
  BatchRequest,
  InferenceWorkers,
  ModelInfo,
  ModelLoading,
} from '../jobs/inference-workers.ts';
import type { Logger } from '../jobs/logger.ts';
import type { WorkerHolding } from '../jobs/model-placement.ts';
import {
  HEARTBEAT_MS,
  type ChildMessage,
  type ParentMessage,
  type WorkerInit,
  type WorkerModel,
} from './worker-protocol.ts';

// `.ts` from the sources, `.js` from the compiled package (Node strips no types in node_modules).
const ENTRY = fileURLToPath(
  new URL(`./worker-entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);

interface Current {
  readonly batchId: string;
  readonly model: string;
  readonly resolve: (outcome: BatchOutcome) => void;
  readonly onProgress: (progress: BatchProgress) => void;
}

interface Slot {
  readonly index: number;
  readonly device: string;
  child: ChildProcess | undefined;
  state: 'starting' | 'idle' | 'busy' | 'stopped';
  current: Current | undefined;
  restarts: number;
  /** What this worker last said about its models. */
  models: readonly ModelInfo[];
  /** The model set it was started with. */
  startedWith: readonly WorkerModel[];
  /** When the worker last sent anything (heartbeat, progress, outcome). */
  lastHeardAt: number;
  /** Why the watchdog killed it, for the batch's outcome. */
  killedBecause: string | undefined;
  /** When it was last forked (it is `starting` until it says `ready`). */
  spawnedAt: number;
  /** When a dead worker is forked again (the restart delay's end). */
  respawnAt: number | undefined;
}

export interface ChildProcessWorkersOptions {
  readonly devices: readonly string[];
  readonly init: Omit<WorkerInit, 'executionProvider'>;
  readonly restartDelayMs: number;
  /** A busy worker silent this long is hung; an idle one is after a tenth of it (≥ 3 heartbeats). */
  readonly stepTimeoutMs: number;
  readonly logger: Logger;
}

/**
 * {@link InferenceWorkers} as one child process per device (the supervisor): inference never runs
 * on the API's event loop, and a worker that dies (crash, OOM, kill) fails only its batch — with
 * `WORKER_DIED`, so the dispatcher retries — and is restarted.
 */
export class ChildProcessWorkers implements InferenceWorkers, ModelLoading {
  readonly #o: ChildProcessWorkersOptions;
  readonly #slots: Slot[];
  readonly #idleListeners = new Set<() => void>();
  readonly #modelListeners = new Set<() => void>();
  /** `load` and `unload` requests a worker has not answered yet, by request id. */
  readonly #changes = new Map<string, { readonly slot: Slot; readonly done: () => void }>();
  /** The model set workers serve; a restarted worker starts with the current one. */
  #workerModels: readonly WorkerModel[];
  #closing = false;
  readonly #watchdog: NodeJS.Timeout;
  #firstReady: Promise<void>;
  /** How long the last worker took from fork to `ready` (loading its models), once known. */
  #startupMs: number | undefined;
  #resolveFirstReady: () => void = () => undefined;

  constructor(options: ChildProcessWorkersOptions) {
    this.#o = options;
    this.#workerModels = options.init.models;
    this.#slots = options.devices.map((device, index) => ({
      index,
      device,
      child: undefined,
      state: 'stopped',
      current: undefined,
      restarts: 0,
      models: [],
      startedWith: [],
      lastHeardAt: 0,
      killedBecause: undefined,
      spawnedAt: 0,
      respawnAt: undefined,
    }));
    this.#firstReady = new Promise((resolve) => {
      this.#resolveFirstReady = resolve;
    });
    for (const slot of this.#slots) this.#spawn(slot);
    this.#watchdog = setInterval(
      () => this.#watch(),
      Math.min(HEARTBEAT_MS, options.stepTimeoutMs / 4),
    );
    this.#watchdog.unref();
  }

  /** How long `slot` may stay silent in its state before it counts as hung. */
  #allowedSilenceMs(slot: Slot): number | undefined {
    if (slot.state === 'busy') return this.#o.stepTimeoutMs;
    if (slot.state === 'idle')
      return Math.max(3 * HEARTBEAT_MS, Math.min(this.#o.stepTimeoutMs / 10, 30_000));
    return undefined; // starting (loading models) or stopped
  }

  #silentTooLong(slot: Slot, now: number): boolean {
    const allowed = this.#allowedSilenceMs(slot);
    return allowed !== undefined && now - slot.lastHeardAt > allowed;
  }

  /**
   * Kills workers that stopped answering (SIGSTOP, a native hang): SIGKILL works on a stopped
   * process, and the exit path then reports `WORKER_DIED` for its batch (retried once) and
   * restarts the worker.
   */
  #watch(): void {
    const now = Date.now();
    for (const slot of this.#slots) {
      if (!this.#silentTooLong(slot, now) || slot.killedBecause !== undefined) continue;
      const silentS = Math.round((now - slot.lastHeardAt) / 100) / 10;
      slot.killedBecause = `the worker stopped answering (${silentS} s ${slot.state} without a step or heartbeat) and was killed`;
      this.#o.logger.error(
        { worker: slot.index, pid: slot.child?.pid, state: slot.state, silentS },
        'worker hung; killing it',
      );
      slot.child?.kill('SIGKILL');
    }
  }

  /** `true` when some worker answers; else why not (for `/v1/health/ready`). */
  readiness(): true | string {
    const now = Date.now();
    const answering = this.#slots.filter(
      (s) => (s.state === 'idle' || s.state === 'busy') && !this.#silentTooLong(s, now),
    );
    if (answering.length > 0) return true;
    const hung = this.#slots.filter(
      (s) => s.killedBecause !== undefined || this.#silentTooLong(s, now),
    );
    return hung.length > 0
      ? `no worker answers: ${hung.map((s) => `worker ${s.index} hung`).join(', ')}`
      : 'no live worker';
  }

  get count(): number {
    return this.#slots.length;
  }

  /**
   * Milliseconds until a worker is expected to take work: 0 while one is live; else, over the
   * workers, the least of what is left of the restart delay plus a start, and what is left of a
   * start under way. A start is expected to take as long as the last one did; before any worker
   * was ever ready, as long again as this one has taken so far (at least a second).
   */
  readyInMs(): number {
    const now = Date.now();
    if (this.liveCount() > 0) return 0;
    const waits = this.#slots.flatMap((slot) => {
      if (slot.state === 'starting') {
        const elapsed = now - slot.spawnedAt;
        return [Math.max(0, (this.#startupMs ?? Math.max(1000, 2 * elapsed)) - elapsed)];
      }
      if (slot.respawnAt === undefined) return []; // stopped for good (closing)
      return [Math.max(0, slot.respawnAt - now) + (this.#startupMs ?? 1000)];
    });
    return waits.length > 0 ? Math.min(...waits) : 0;
  }

  /** Resolves once a worker has loaded its models. */
  ready(): Promise<void> {
    return this.#firstReady;
  }

  /** Process ids of the live workers (for diagnostics and tests). */
  pids(): number[] {
    return this.#slots.flatMap((s) =>
      s.child?.pid === undefined || s.state === 'stopped' ? [] : [s.child.pid],
    );
  }

  /** How many times workers were restarted after dying. */
  get restarts(): number {
    return this.#slots.reduce((sum, s) => sum + s.restarts, 0);
  }

  /** Process ids of the workers running a batch now (diagnostics and tests). */
  busyPids(): number[] {
    return this.#slots.flatMap((s) =>
      s.child?.pid === undefined || s.state !== 'busy' ? [] : [s.child.pid],
    );
  }

  /** An idle worker that stopped answering is not given work (the watchdog kills it). */
  #idle(slot: Slot, now: number): boolean {
    return slot.state === 'idle' && !this.#silentTooLong(slot, now);
  }

  idleCount(): number {
    const now = Date.now();
    return this.#slots.filter((s) => this.#idle(s, now)).length;
  }

  liveCount(): number {
    return this.#slots.filter((s) => s.state === 'idle' || s.state === 'busy').length;
  }

  /**
   * The models as the workers describe them: the first live worker's view, `loaded` when any
   * worker holds the model, failed when any worker could not load it.
   */
  models(): readonly ModelInfo[] {
    const live = this.#slots.filter((s) => s.state === 'idle' || s.state === 'busy');
    // A restarting worker keeps what it last said, so its models stay listed (and jobs for them
    // queue) while it comes back, instead of looking unconfigured.
    const first = this.#slots.find((s) => s.models.length > 0)?.models ?? [];
    return first.map((info) => {
      const views = live.flatMap((s) => s.models.filter((m) => m.name === info.name));
      // A load fails in the one worker that tried it: the model is failed for all of them.
      const failed = views.find((m) => !m.available);
      return {
        ...info,
        ...(failed ? { available: false, error: failed.error } : {}),
        loaded: views.some((m) => m.loaded),
      };
    });
  }

  /** Serves a new set of models without a restart: added ones load on first use, removed ones unload. */
  setModels(models: readonly WorkerModel[]): void {
    this.#workerModels = models;
    for (const slot of this.#slots) {
      if (slot.state === 'starting' || slot.state === 'stopped') continue;
      slot.child?.send({ type: 'models', models } satisfies ParentMessage);
    }
  }

  onIdle(listener: () => void): void {
    this.#idleListeners.add(listener);
  }

  /** Calls `listener` whenever a worker said what it serves (so `models()` may have changed). */
  onModels(listener: () => void): () => void {
    this.#modelListeners.add(listener);
    return () => this.#modelListeners.delete(listener);
  }

  #notifyModels(): void {
    for (const listener of [...this.#modelListeners]) listener();
    // A job left for the worker holding its model may go elsewhere once that worker dropped it.
    if (this.#slots.some((s) => s.state === 'idle')) this.#notifyIdle();
  }

  #spawn(slot: Slot): void {
    const init: WorkerInit = {
      ...this.#o.init,
      models: this.#workerModels,
      executionProvider: slot.device,
    };
    slot.startedWith = this.#workerModels;
    slot.spawnedAt = Date.now();
    slot.respawnAt = undefined;
    const child = fork(ENTRY, [JSON.stringify(init)], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    slot.child = child;
    slot.state = 'starting';
    slot.killedBecause = undefined;
    child.on('message', (message: ChildMessage) => this.#onMessage(slot, message));
    child.on('exit', (code, signal) => this.#onExit(slot, child, code, signal));
    child.on('error', (error) =>
      this.#o.logger.error({ err: error, worker: slot.index }, 'worker process error'),
    );
  }

  #onMessage(slot: Slot, message: ChildMessage): void {
    slot.lastHeardAt = Date.now();
    switch (message.type) {
      case 'models':
        slot.models = message.models;
        this.#notifyModels();
        break;
      case 'heartbeat':
        break;
      case 'changed':
        slot.models = message.models;
        this.#notifyModels();
        this.#changes.get(message.requestId)?.done();
        this.#changes.delete(message.requestId);
        break;
      case 'ready':
        slot.models = message.models;
        slot.state = 'idle';
        this.#startupMs = slot.lastHeardAt - slot.spawnedAt;
        // The set may have changed while this worker was starting.
        if (slot.child && slot.startedWith !== this.#workerModels)
          slot.child.send({ type: 'models', models: this.#workerModels } satisfies ParentMessage);
        this.#o.logger.info(
          { worker: slot.index, pid: slot.child?.pid, device: slot.device },
          'worker ready',
        );
        this.#resolveFirstReady();
        this.#notifyModels();
        this.#notifyIdle();
        break;
      case 'progress':
        if (slot.current?.batchId === message.batchId) slot.current.onProgress(message);
        break;
      case 'done': {
        const current = slot.current;
        if (current?.batchId !== message.batchId) break;
        slot.current = undefined;
        slot.state = this.#closing ? 'stopped' : 'idle';
        current.resolve(message.outcome);
        this.#notifyIdle();
        break;
      }
    }
  }

  #onExit(
    slot: Slot,
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (slot.child !== child) return;
    // A dead worker holds nothing: its loads and unloads are over.
    for (const [id, change] of this.#changes) {
      if (change.slot !== slot) continue;
      this.#changes.delete(id);
      change.done();
    }
    const current = slot.current;
    slot.current = undefined;
    slot.state = 'stopped';
    if (current) {
      const message =
        slot.killedBecause ??
        `the worker process exited (${signal ?? `code ${code}`}) during the batch`;
      current.resolve({ ok: false, code: 'WORKER_DIED', message, field: undefined });
    }
    if (this.#closing) return;
    this.#o.logger.warn({ worker: slot.index, code, signal }, 'worker died; restarting');
    slot.restarts++;
    slot.respawnAt = Date.now() + this.#o.restartDelayMs;
    setTimeout(() => {
      if (!this.#closing) this.#spawn(slot);
    }, this.#o.restartDelayMs).unref();
  }

  #notifyIdle(): void {
    for (const listener of this.#idleListeners) listener();
  }

  /**
   * The idle worker for a batch of `model` when the caller named none (or the one it named is no
   * longer idle): one that holds it loaded, else one that holds no model, else the first idle
   * one. The embedded dispatcher names the worker ({@link holdings}, `placeNext`).
   */
  #slotFor(model: string, now: number): Slot | undefined {
    const idle = this.#slots.filter((s) => this.#idle(s, now));
    const holds = (s: Slot, name: string | undefined): boolean =>
      s.models.some((m) => m.loaded && (name === undefined || m.name === name));
    return idle.find((s) => holds(s, model)) ?? idle.find((s) => !holds(s, undefined)) ?? idle[0];
  }

  holdings(): readonly WorkerHolding[] {
    const now = Date.now();
    return this.#slots.flatMap((s) => {
      if (s.state !== 'idle' && s.state !== 'busy') return [];
      const models = s.models.filter((m) => m.loaded).map((m) => m.name);
      const running = s.current?.model;
      if (running !== undefined && !models.includes(running)) models.push(running);
      return [{ worker: s.index, idle: this.#idle(s, now), models }];
    });
  }

  /** The models each live worker holds loaded, by process id (diagnostics and tests). */
  loadedByPid(): Map<number, string[]> {
    return new Map(
      this.#slots.flatMap((s) =>
        s.child?.pid === undefined || s.state === 'stopped'
          ? []
          : [[s.child.pid, s.models.filter((m) => m.loaded).map((m) => m.name)] as const],
      ),
    );
  }

  /**
   * Loads `model` in the worker a batch of it would go to now (an idle one holding it or holding
   * nothing, else the first idle one, else any live one); a no-op when a worker holds it.
   */
  async load(model: string): Promise<void> {
    const live = this.#slots.filter((s) => s.state === 'idle' || s.state === 'busy');
    if (live.some((s) => s.models.some((m) => m.name === model && m.loaded))) return;
    const slot = this.#slotFor(model, Date.now()) ?? live[0];
    if (slot) await this.#change(slot, 'load', model);
  }

  /** Unloads `model` from every worker holding it, each after its running batch. */
  async unload(model: string): Promise<void> {
    const holders = this.#slots.filter(
      (s) =>
        (s.state === 'idle' || s.state === 'busy') &&
        s.models.some((m) => m.name === model && m.loaded),
    );
    await Promise.all(holders.map((slot) => this.#change(slot, 'unload', model)));
  }

  #change(slot: Slot, type: 'load' | 'unload', model: string): Promise<void> {
    const child = slot.child;
    if (!child) return Promise.resolve();
    const requestId = randomUUID();
    return new Promise((done) => {
      this.#changes.set(requestId, { slot, done });
      child.send({ type, requestId, model } satisfies ParentMessage);
    });
  }

  run(
    request: BatchRequest,
    onProgress: (progress: BatchProgress) => void,
    worker?: number,
  ): Promise<BatchOutcome> {
    const now = Date.now();
    const chosen = worker === undefined ? undefined : this.#slots[worker];
    const slot = chosen && this.#idle(chosen, now) ? chosen : this.#slotFor(request.model, now);
    if (!slot?.child) {
      return Promise.resolve({
        ok: false,
        code: 'WORKER_DIED',
        message: 'no idle worker',
        field: undefined,
      });
    }
    slot.state = 'busy';
    slot.lastHeardAt = Date.now(); // the deadline of its first step starts now
    const child = slot.child;
    return new Promise((resolve) => {
      slot.current = { batchId: request.batchId, model: request.model, resolve, onProgress };
      const message: ParentMessage = {
        type: 'run',
        batchId: request.batchId,
        model: request.model,
        jobs: request.jobs,
      };
      child.send(message);
    });
  }

  cancel(batchId: string): void {
    const slot = this.#slots.find((s) => s.current?.batchId === batchId);
    slot?.child?.send({ type: 'cancel', batchId } satisfies ParentMessage);
  }

  async close(deadlineMs: number): Promise<void> {
    this.#closing = true;
    clearInterval(this.#watchdog);
    await Promise.all(
      this.#slots.map(async (slot) => {
        const child = slot.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        if (slot.state === 'busy' && deadlineMs > 0) {
          await Promise.race([exited, new Promise((r) => setTimeout(r, deadlineMs))]);
        }
        if (child.connected) child.send({ type: 'shutdown' } satisfies ParentMessage);
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
