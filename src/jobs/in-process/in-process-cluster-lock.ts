import type { ClusterLock } from '../cluster-lock.ts';

export interface InProcessClusterLockOptions {
  /** The clock (tests move it instead of waiting). */
  readonly now?: () => number;
}

/** {@link ClusterLock} in this process's memory: one process is the whole "cluster". */
export class InProcessClusterLock implements ClusterLock {
  readonly #now: () => number;
  readonly #held = new Map<string, { holder: string; expiresAt: number }>();

  constructor(options: InProcessClusterLockOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const held = this.#held.get(name);
    if (held && held.holder !== holder && held.expiresAt > now) return Promise.resolve(false);
    this.#held.set(name, { holder, expiresAt: now + ttlMs });
    return Promise.resolve(true);
  }

  release(name: string, holder: string): Promise<boolean> {
    const held = this.#held.get(name);
    if (!held || held.holder !== holder || held.expiresAt <= this.#now())
      return Promise.resolve(false);
    this.#held.delete(name);
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
