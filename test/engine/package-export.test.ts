// `pictor/engine` as an outside user imports it: the built JavaScript in dist/, resolved through
// package.json "exports" (Node will not strip types inside node_modules, so sources cannot serve).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type * as Engine from '../../src/engine/index.ts';

test('the package export pictor/engine loads the built engine and generates', async () => {
  // A variable specifier: typechecking must not depend on dist/ having been built.
  const specifier = 'pictor/engine';
  const engine = (await import(specifier)) as typeof Engine;
  const resolved = import.meta.resolve('pictor/engine');
  assert.match(resolved, /\/dist\/engine\/index\.js$/);
  const scheduler = engine.createScheduler('euler', {
    beta_start: 0.00085,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    timestep_spacing: 'trailing',
    steps_offset: 1,
  });
  scheduler.setTimesteps(4);
  assert.deepEqual(scheduler.timesteps, [999, 749, 499, 249]);
  const pipeline = await engine.loadPipeline(
    path.join(import.meta.dirname, '../fixtures/models/sd15'),
  );
  try {
    const result = await pipeline.generate({ prompt: 'red', steps: 1, seed: 1 });
    assert.equal(result.images[0]?.mimeType, 'image/png');
  } finally {
    await pipeline.dispose();
  }
});
