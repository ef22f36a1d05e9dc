import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveSampler, samplerList } from '../../src/api/dialects/a1111/samplers.ts';
import type { ModelInfo } from '../../src/jobs/inference-workers.ts';

// A FLUX model as the worker describes it: flow_euler is its only scheduler.
const flux = {
  name: 'flux',
  family: 'flux',
  defaultScheduler: 'flow_euler',
  schedulers: ['flow_euler'],
} as unknown as ModelInfo;
const sd = {
  name: 'sd',
  family: 'sd',
  defaultScheduler: 'euler',
  schedulers: ['euler'],
} as unknown as ModelInfo;

test("A1111's 'Euler' is flow_euler for a FLUX model and euler for an SD model, without warnings", () => {
  assert.deepEqual(resolveSampler('Euler', undefined, flux), {
    scheduler: 'flow_euler',
    sampler: 'Euler',
    schedule: 'Simple',
    warnings: [],
  });
  assert.equal(resolveSampler('Euler', undefined, sd).scheduler, 'euler');
});

test('a sampler FLUX cannot run falls back to its Euler, saying so', () => {
  const resolved = resolveSampler('DPM++ 2M', 'Karras', flux);
  assert.equal(resolved.scheduler, 'flow_euler');
  assert.match(resolved.warnings[0] ?? '', /not available; used flow_euler/);
});

test('/sdapi/v1/samplers lists Euler for a FLUX-only server', () => {
  assert.deepEqual(samplerList([flux]), [
    { name: 'Euler', aliases: ['flow_euler', 'k_euler'], options: {} },
  ]);
});
