// Model-aware placement as a pure decision over the queue in run order and the workers' holdings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { QueueEntry } from '../../src/jobs/job-queue.ts';
import {
  placeForNode,
  placeNext,
  type NodeHoldings,
  type WorkerHolding,
} from '../../src/jobs/model-placement.ts';

let clock = 0;
const job = (id: string, model: string, priority = 0): QueueEntry => ({
  id,
  priority,
  createdAt: ++clock,
  batchKey: `${model}|64`,
  model,
  images: 1,
  steps: 2,
  pixels: 4096,
});
const idle = (worker: number, ...models: string[]): WorkerHolding => ({
  worker,
  idle: true,
  models,
});
const busy = (worker: number, ...models: string[]): WorkerHolding => ({
  worker,
  idle: false,
  models,
});
const place = (entries: QueueEntry[], workers: WorkerHolding[]): string | undefined => {
  const p = placeNext(entries, workers);
  return p && `${p.entry.id}@${p.worker}`;
};

test('an idle worker holding the head job’s model takes it, wherever it is in the list', () => {
  assert.equal(place([job('a1', 'a')], [idle(0, 'b'), idle(1, 'a')]), 'a1@1');
});

test('a freed worker takes the oldest job of its model over an older job of a busy worker’s model', () => {
  // Worker 0 holds a and is free; worker 1 holds b and is busy. The queue's head wants b.
  const queue = [job('b2', 'b'), job('a2', 'a'), job('a3', 'a')];
  assert.equal(place(queue, [idle(0, 'a'), busy(1, 'b')]), 'a2@0');
});

test('a job whose model only a busy worker holds waits for it rather than evict another model', () => {
  assert.equal(place([job('a2', 'a')], [busy(0, 'a'), idle(1, 'b')]), undefined);
});

test('…but starts at once on an idle worker that holds nothing (no eviction)', () => {
  assert.equal(place([job('a2', 'a')], [busy(0, 'a'), idle(1)]), 'a2@1');
});

test('a model nobody holds loads on an empty worker, else on one whose models no queued job wants', () => {
  assert.equal(place([job('c1', 'c')], [idle(0, 'a'), idle(1)]), 'c1@1');
  // Worker 0's `a` is wanted by a1, queued behind c1: c1 loads on worker 1, whose `b` nobody wants.
  assert.equal(place([job('c1', 'c'), job('a1', 'a')], [idle(0, 'a'), idle(1, 'b')]), 'c1@1');
  assert.equal(place([job('c1', 'c')], [idle(0, 'a'), idle(1, 'b')]), 'c1@0');
});

test('priority and age decide among the jobs that can start now', () => {
  const queue = [job('a-high', 'a', 5), job('a-old', 'a'), job('a-new', 'a')];
  assert.equal(place(queue, [idle(0, 'a')]), 'a-high@0');
  assert.equal(place(queue.slice(1), [idle(0, 'a')]), 'a-old@0');
});

test('starvation-free: the left job is the first its holder takes once free, before later jobs of any model', () => {
  const left = job('a2', 'a');
  const later = [job('b2', 'b'), job('a3', 'a')];
  // While worker 0 (holding a) is busy, worker 1 runs b jobs behind a2…
  assert.equal(place([left, ...later], [busy(0, 'a'), idle(1, 'b')]), 'b2@1');
  // …and when worker 0 frees up, a2 — not a3 — goes to it.
  assert.equal(place([left, ...later], [idle(0, 'a'), busy(1, 'b')]), 'a2@0');
  // If the holder dropped its model (keep-alive, death), a2 loads on whoever is free.
  assert.equal(place([left], [busy(0), idle(1, 'b')]), 'a2@1');
});

test('no idle worker: nothing is placed', () => {
  assert.equal(place([job('a1', 'a')], [busy(0, 'a')]), undefined);
});

// A cluster node's claim (placeForNode) is its share of the embedded placement over every node's
// workers: the same rule, so two models on two nodes settle as on two embedded workers.

const onNode = (node: string, ...workers: WorkerHolding[]): NodeHoldings => ({ node, workers });
const claimOf = (entries: QueueEntry[], self: NodeHoldings, others: NodeHoldings[]) => {
  const p = placeForNode(entries, self, others);
  return p && `${p.entry.id}@${p.worker}`;
};

test('a node takes the job of its model and leaves the other model’s to the idle node holding it', () => {
  const queue = [job('a1', 'a'), job('b1', 'b')];
  const x = onNode('x', idle(0, 'b'));
  const y = onNode('y', idle(0, 'a'));
  assert.equal(claimOf(queue, x, [y]), 'b1@0');
  assert.equal(claimOf(queue, y, [x]), 'a1@0');
});

test('a node leaves a job to a busy node holding its model, and takes nothing else', () => {
  const x = onNode('x', idle(0, 'b'));
  assert.equal(claimOf([job('a1', 'a')], x, [onNode('y', busy(0, 'a'))]), undefined);
  // Its own holdings in `others` (a stale read of itself) change nothing.
  assert.equal(claimOf([job('a1', 'a')], x, [x, onNode('y', busy(0, 'a'))]), undefined);
  // An empty worker loads it at once, as in the embedded mode.
  assert.equal(
    claimOf([job('a1', 'a')], onNode('z', idle(0)), [onNode('y', busy(0, 'a'))]),
    'a1@0',
  );
});

test('a job placed on another node’s worker makes it busy for the jobs behind, as a promised worker', () => {
  // c1 goes to y (empty); with y taken, d1 loads on x, whose b nobody wants.
  const queue = [job('c1', 'c'), job('d1', 'd')];
  const x = onNode('x', idle(3, 'b'));
  assert.equal(claimOf(queue, x, [onNode('y', idle(0))]), 'd1@3');
});

/** A small deterministic generator (tests must fail the same way twice). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

test('over random snapshots, each node claims exactly the first job the embedded placement gives its workers', () => {
  const next = random(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const models = ['a', 'b', 'c', 'd'];
  for (let round = 0; round < 2000; round++) {
    const entries = Array.from({ length: 1 + Math.floor(next() * 6) }, (_, i) =>
      job(`j${i}`, pick(models), pick([0, 0, 1])),
    ).sort((p, q) => q.priority - p.priority || p.createdAt - q.createdAt);
    const nodes = Array.from({ length: 1 + Math.floor(next() * 3) }, (_, n) =>
      onNode(
        `node-${n}`,
        ...Array.from({ length: 1 + Math.floor(next() * 2) }, (_, w) => ({
          worker: w,
          idle: next() < 0.6,
          models: models.filter(() => next() < 0.3),
        })),
      ),
    );
    // The embedded dispatcher over all the workers: place, promise the worker, repeat.
    let workers = nodes.flatMap((n) =>
      n.workers.map((w) => ({ ...w, worker: 0, node: n.node, local: w.worker })),
    );
    workers = workers.map((w, i) => ({ ...w, worker: i }));
    let waiting = [...entries];
    const firstOn = new Map<string, string>();
    for (let p = placeNext(waiting, workers); p; p = placeNext(waiting, workers)) {
      const placed = p;
      const w = workers[placed.worker];
      assert.ok(w);
      if (!firstOn.has(w.node)) firstOn.set(w.node, `${placed.entry.id}@${w.local}`);
      workers = workers.map((v) =>
        v.worker === placed.worker
          ? { ...v, idle: false, models: [...v.models, placed.entry.model] }
          : v,
      );
      waiting = waiting.filter((e) => e !== placed.entry);
    }
    for (const self of nodes) {
      const others = nodes.filter((n) => n !== self);
      assert.equal(
        claimOf(entries, self, others),
        firstOn.get(self.node),
        `round ${round}: ${JSON.stringify({ entries: entries.map((e) => e.model), nodes })}`,
      );
    }
  }
});
