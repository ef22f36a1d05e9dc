import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schedulerConfigFor } from '../../src/engine/pipeline/scheduler-config-for.ts';

const euler = { _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'trailing' } as const;

test('another class gets SD’s clip_sample / set_alpha_to_one / skip_prk_steps unless the config sets them', () => {
  assert.deepEqual(schedulerConfigFor('ddim', euler), {
    clip_sample: false,
    set_alpha_to_one: false,
    skip_prk_steps: true,
    ...euler,
  });
  assert.equal(
    schedulerConfigFor('pndm', { ...euler, skip_prk_steps: false }).skip_prk_steps,
    false,
  );
});

test('the model’s own class keeps its config untouched (diffusers’ class defaults apply)', () => {
  const ddim = { _class_name: 'DDIMScheduler' };
  assert.equal(schedulerConfigFor('ddim', ddim), ddim);
  assert.equal(schedulerConfigFor('euler', euler), euler);
});
