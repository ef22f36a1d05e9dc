import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLUX_FAMILY } from '../../src/engine/families/flux-family.ts';
import { packLatents, unpackLatents } from '../../src/engine/flow/latent-packing.ts';
import { fluxTokenPositions, rotaryTables } from '../../src/engine/flow/rotary-positions.ts';
import { createScheduler } from '../../src/engine/schedulers/create-scheduler.ts';

// σ schedules of Black Forest Labs' `get_schedule` (flux/sampling.py, torch float32), printed by
// running it: FLUX.1-dev at 1024² (4096 image tokens, shifted) and schnell (no shift).
const BFL_DEV_28_AT_4096 = [
  1.0, 0.988408625125885, 0.9762224555015564, 0.9633944630622864, 0.949872612953186,
  0.9355989694595337,
];
const BFL_DEV_28_TAIL = [0.19545459747314453, 0.10472090542316437, 0.0];
const BFL_DEV_8_AT_1024 = [
  1.0, 0.9292949438095093, 0.8492348194122314, 0.7578311562538147, 0.652489423751831,
  0.5297583937644958, 0.38494473695755005, 0.21149955689907074, 0.0,
];

const DEV_CONFIG = {
  _class_name: 'FlowMatchEulerDiscreteScheduler',
  num_train_timesteps: 1000,
  shift: 3,
  use_dynamic_shifting: true,
  base_shift: 0.5,
  max_shift: 1.15,
  base_image_seq_len: 256,
  max_image_seq_len: 4096,
};

function fluxSigmas(config: Record<string, unknown>, steps: number, side: number): number[] {
  const scheduler = createScheduler('flow_euler', config);
  const latent = side / 8;
  scheduler.setTimesteps(steps, FLUX_FAMILY.flowTimesteps?.(steps, latent, latent));
  return [...(scheduler.sigmas ?? [])];
}

const close = (actual: readonly number[], expected: readonly number[]): void => {
  assert.equal(actual.length, expected.length);
  actual.forEach((value, i) =>
    assert.ok(Math.abs(value - (expected[i] ?? 0)) < 1e-6, `σ[${i}] ${value} vs ${expected[i]}`),
  );
};

test("FLUX.1-dev's steps are BFL's get_schedule: 28 at 1024², 8 at 512²", () => {
  const dev28 = fluxSigmas(DEV_CONFIG, 28, 1024);
  close(dev28.slice(0, 6), BFL_DEV_28_AT_4096);
  close(dev28.slice(-3), BFL_DEV_28_TAIL);
  close(fluxSigmas(DEV_CONFIG, 8, 512), BFL_DEV_8_AT_1024);
});

test("FLUX.1-schnell's steps are unshifted: 1, 0.75, 0.5, 0.25, 0", () => {
  const schnell = { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 1 };
  close(fluxSigmas(schnell, 4, 1024), [1, 0.75, 0.5, 0.25, 0]);
});

test("2×2 packing is BFL's rearrange and unpacking inverts it", () => {
  // One item, 1 channel, 2×4 latent: patches (0,0) and (0,1), each 4 values row-major.
  const latent = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
  const packed = packLatents(latent, 1, 1, 2, 4);
  assert.deepEqual([...packed], [0, 1, 4, 5, 2, 3, 6, 7]);
  const random = Float32Array.from({ length: 2 * 3 * 4 * 6 }, (_, i) => Math.sin(i));
  assert.deepEqual(unpackLatents(packLatents(random, 2, 3, 4, 6), 2, 3, 4, 6), random);
});

test('rotary tables: text tokens at angle 0, image tokens rotate by row and column', () => {
  const positions = fluxTokenPositions(2, 2, 2);
  assert.deepEqual([...positions], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1]);
  const { cos, sin, dims } = rotaryTables(positions, { dims: [2, 2, 2], theta: 10000 }, 2);
  assert.deepEqual(dims, [2, 6, 3]);
  assert.deepEqual([...cos.subarray(0, 6)], [1, 1, 1, 1, 1, 1]);
  // Token 5 (row 1, column 1): axis-0 angle 0, axes 1 and 2 angle 1·ω₀ = 1 rad.
  assert.deepEqual(
    [...sin.subarray(15, 18)],
    [0, Math.fround(Math.sin(1)), Math.fround(Math.sin(1))],
  );
  assert.deepEqual([...cos.subarray(18)], [...cos.subarray(0, 18)], 'repeated per item');
});
