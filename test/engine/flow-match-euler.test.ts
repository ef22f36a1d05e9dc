import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createScheduler } from '../../src/engine/schedulers/create-scheduler.ts';
import {
  FlowMatchEulerScheduler,
  flowShiftMu,
} from '../../src/engine/schedulers/flow-match-euler.ts';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler.ts';

/** Made by scripts/fixtures/flow_match_reference.py (diffusers' numeric path on torch/numpy). */
interface ReferenceCase {
  readonly label: string;
  readonly config: SchedulerConfig;
  readonly steps: number;
  readonly sigmas_given: number[] | null;
  readonly image_sequence_length: number | null;
  readonly mu: number | null;
  readonly timesteps: number[];
  readonly sigmas: number[];
  readonly sample: number[];
  readonly noise: number[];
  readonly model_outputs: number[][];
  readonly trajectory: number[][];
  readonly noised_at: Record<string, number[]>;
}

const { cases } = JSON.parse(
  readFileSync(new URL('../fixtures/schedulers/flow-match-euler.json', import.meta.url), 'utf8'),
) as { cases: ReferenceCase[] };

function assertClose(actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = 1e-5 * Math.max(1, Math.abs(expected[i]!));
    assert.ok(
      Math.abs(actual[i]! - expected[i]!) <= tolerance,
      `${what}[${i}]: ${actual[i]} vs diffusers ${expected[i]}`,
    );
  }
}

function scheduled(c: ReferenceCase): FlowMatchEulerScheduler {
  const scheduler = new FlowMatchEulerScheduler(c.config);
  scheduler.setTimesteps(c.steps, {
    ...(c.sigmas_given ? { sigmas: c.sigmas_given } : {}),
    ...(c.image_sequence_length === null ? {} : { imageSequenceLength: c.image_sequence_length }),
  });
  return scheduler;
}

describe('flow-matching Euler matches diffusers FlowMatchEulerDiscreteScheduler', () => {
  for (const c of cases) {
    it(`${c.label}: timesteps, sigmas, steps and noising`, () => {
      const scheduler = scheduled(c);
      assertClose(scheduler.timesteps, c.timesteps, 'timesteps');
      assertClose(scheduler.sigmas, c.sigmas, 'sigmas');
      let x: Float32Array = Float32Array.from(c.sample);
      for (let i = 0; i < c.steps; i++) {
        const input = scheduler.scaleModelInput(x, i);
        assert.equal(input, x, 'flow models take the latents unscaled');
        x = scheduler.step(Float32Array.from(c.model_outputs[i]!), i, x, () => {
          throw new Error('flow Euler draws no noise');
        });
        assertClose(x, c.trajectory[i]!, `step ${i}`);
      }
      for (const [index, expected] of Object.entries(c.noised_at)) {
        const noised = scheduler.addNoise(
          Float32Array.from(c.sample),
          Float32Array.from(c.noise),
          Number(index),
        );
        assertClose(noised, expected, `noised at ${index}`);
      }
    });
  }

  it('derives μ like the FLUX pipeline', () => {
    const dev = cases.find((c) => c.label.startsWith('FLUX.1-dev 1024'))!;
    assert.ok(Math.abs(flowShiftMu(4096, dev.config) - 1.15) < 1e-12);
    assert.ok(Math.abs(flowShiftMu(256, dev.config) - 0.5) < 1e-12);
    const half = cases.find((c) => c.label.startsWith('FLUX.1-dev 512'))!;
    assert.ok(Math.abs(flowShiftMu(1024, half.config) - half.mu!) < 1e-12);
    assert.ok(Math.abs(half.mu! - 0.63) < 1e-12);
  });
});

describe('flow-matching Euler: contract', () => {
  it('is built by createScheduler under the name flow_euler', () => {
    const scheduler = createScheduler('flow_euler', { shift: 3 });
    assert.ok(scheduler instanceof FlowMatchEulerScheduler);
    assert.equal(scheduler.name, 'flow_euler');
    assert.equal(scheduler.initNoiseSigma, 1);
    scheduler.setTimesteps(4);
    assert.equal(scheduler.timesteps.length, 4);
    assert.equal(scheduler.sigmas?.at(-1), 0);
  });

  it('denoises an exact velocity to the clean latents', () => {
    const x0 = Float32Array.from([0.5, -1, 2, 0]);
    const noise = Float32Array.from([1, 0.25, -0.5, 1.5]);
    const velocity = noise.map((n, i) => n - x0[i]!);
    const scheduler = new FlowMatchEulerScheduler({ shift: 3 });
    scheduler.setTimesteps(8);
    let x: Float32Array = Float32Array.from(noise);
    for (let i = 0; i < 8; i++) x = scheduler.step(velocity, i, x, () => new Float32Array());
    for (let i = 0; i < x0.length; i++) assert.ok(Math.abs(x[i]! - x0[i]!) < 1e-5);
    // img2img: noising to step 3 then denoising from there lands on x₀ too.
    let y: Float32Array = Float32Array.from(scheduler.addNoise(x0, noise, 3));
    for (let i = 3; i < 8; i++) y = scheduler.step(velocity, i, y, () => new Float32Array());
    for (let i = 0; i < x0.length; i++) assert.ok(Math.abs(y[i]! - x0[i]!) < 1e-5);
  });

  it('refuses what it cannot reproduce, and a dynamic shift without the image size', () => {
    assert.throws(() => new FlowMatchEulerScheduler({ use_beta_sigmas: true }), /use_beta_sigmas/);
    assert.throws(
      () => new FlowMatchEulerScheduler({ stochastic_sampling: true }),
      /stochastic_sampling/,
    );
    assert.throws(
      () => new FlowMatchEulerScheduler({ use_karras_sigmas: true, use_exponential_sigmas: true }),
      /only one/,
    );
    assert.throws(
      () => new FlowMatchEulerScheduler({ time_shift_type: 'cubic' }),
      /time_shift_type/,
    );
    const dynamic = new FlowMatchEulerScheduler({ use_dynamic_shifting: true });
    assert.throws(() => dynamic.setTimesteps(4), /imageSequenceLength/);
    assert.throws(() => dynamic.setTimesteps(4, { mu: 1, sigmas: [1, 0.5] }), /2 sigmas/);
    assert.throws(() => dynamic.setTimesteps(0, { mu: 1 }), /positive integer/);
  });
});
