// Model-aware placement as a pure decision over the queue in run order and the workers' holdings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { QueueEntry } from '../../src/jobs/job-queue.ts';
import { placeNext, type WorkerHolding } from '../../src/jobs/model-placement.ts';

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
