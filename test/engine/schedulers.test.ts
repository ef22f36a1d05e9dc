import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  SCHEDULER_NAMES,
  alphasCumprod,
  createScheduler,
  makeBetas,
  schedulerNameForConfig,
  type Scheduler,
  type SchedulerConfig,
  type SchedulerName,
} from '../../src/engine/schedulers/index.ts';

/** Stable Diffusion 1.x/2.x (and SD-Turbo, LCM) training schedule. */
const SD: SchedulerConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  steps_offset: 1,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  clip_sample: false,
};

const SD_ALPHAS = alphasCumprod(makeBetas('scaled_linear', 0.00085, 0.012, 1000));

function scheduler(name: SchedulerName, config: SchedulerConfig, steps: number): Scheduler {
  const s = createScheduler(name, config);
  s.setTimesteps(steps);
  return s;
}

/** Element-wise |actual − expected| ≤ rel·|expected| (absolute 1e-7 around zero). */
function assertClose(actual: readonly number[], expected: readonly number[], rel = 1e-5): void {
  assert.equal(actual.length, expected.length, `length of ${JSON.stringify(actual)}`);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    const tolerance = Math.max(rel * Math.abs(e), 1e-7);
    assert.ok(Math.abs(a - e) <= tolerance, `[${i}] ${a} vs ${e} in ${JSON.stringify(actual)}`);
  });
}

/** Deterministic standard-normal noise (mulberry32 + Box–Muller). */
function gaussian(length: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    out[i] = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  return out;
}

const LENGTH = 2 * 4 * 8 * 8;
const X0 = gaussian(LENGTH, 1).map((v) => 0.5 * v);
const EPS = gaussian(LENGTH, 2);

/**
 * ᾱ of the noise level at `stepIndex` as the scheduler defines it: 1/(1+σ²) for schedulers with
 * sigmas, ᾱ[t] for the α-space ones. The oracle below is exact at this level.
 */
function alphaBarAt(s: Scheduler, stepIndex: number): number {
  if (s.sigmas) return 1 / (1 + s.sigmas[stepIndex]! ** 2);
  return SD_ALPHAS[s.timesteps[stepIndex]!]!;
}

/**
 * The toy UNet: knows the clean signal X0, so from the model input √ᾱ·x₀ + √(1−ᾱ)·ε it returns
 * the exact ε (or v, or x₀) for whatever latents it is given.
 */
function oracle(
  s: Scheduler,
  stepIndex: number,
  modelInput: Float32Array,
  prediction: string,
): Float32Array {
  const alphaBar = alphaBarAt(s, stepIndex);
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  return modelInput.map((x, i) => {
    const eps = (x - a * X0[i]!) / b;
    if (prediction === 'v_prediction') return a * eps - b * X0[i]!;
    return prediction === 'sample' ? X0[i]! : eps;
  });
}

/** Latents at the noise level of `stepIndex` with noise EPS: what an exact sampler must produce. */
function onTrajectory(s: Scheduler, stepIndex: number): Float32Array {
  const alphaBar = alphaBarAt(s, stepIndex);
  // Euler-family latents are x₀ + σ·ε, i.e. the VP latents divided by √ᾱ.
  const scale = SIGMA_SPACE.includes(s.name) ? 1 / Math.sqrt(alphaBar) : 1;
  return X0.map((x0, i) => scale * (Math.sqrt(alphaBar) * x0 + Math.sqrt(1 - alphaBar) * EPS[i]!));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

interface LoopResult {
  readonly final: Float32Array;
  readonly noiseDraws: number;
  /** Worst distance of an intermediate result from the exact trajectory. */
  readonly worstOffTrajectory: number;
}

/** Runs the oracle denoising loop from `start`, checking each intermediate against the trajectory. */
function denoise(
  s: Scheduler,
  prediction: string,
  start: number,
  initial: Float32Array,
): LoopResult {
  let x = initial;
  let noiseDraws = 0;
  let worstOffTrajectory = 0;
  const drawNoise = (): Float32Array => gaussian(LENGTH, 100 + noiseDraws++);
  for (let i = start; i < s.timesteps.length; i++) {
    const modelOutput = oracle(s, i, s.scaleModelInput(x, i), prediction);
    x = s.step(modelOutput, i, x, drawNoise);
    if (i + 1 < s.timesteps.length) {
      worstOffTrajectory = Math.max(worstOffTrajectory, maxAbsDiff(x, onTrajectory(s, i + 1)));
    }
  }
  return { final: x, noiseDraws, worstOffTrajectory };
}

const SIGMA_SPACE: readonly Scheduler['name'][] = ['euler', 'euler_a', 'lms'];
const DETERMINISTIC: readonly SchedulerName[] = [
  'euler',
  'ddim',
  'dpmpp_2m',
  'dpmpp_2m_karras',
  'lms',
  'pndm',
];
const ANCESTRAL: readonly SchedulerName[] = ['euler_a', 'lcm'];
const PREDICTIONS = ['epsilon', 'v_prediction'] as const;

describe('noise schedule', () => {
  it('reproduces diffusers ᾱ for SD betas', () => {
    assertClose([SD_ALPHAS[0]!, SD_ALPHAS[999]!], [0.99914998, 0.0046601], 1e-5);
  });

  it('builds linear and cosine betas like diffusers', () => {
    const linear = makeBetas('linear', 0.0001, 0.02, 1000);
    assertClose([linear[0]!, linear[500]!, linear[999]!], [0.0001, 0.010059959, 0.02], 1e-6);
    const cosine = makeBetas('squaredcos_cap_v2', 0, 0, 1000);
    assert.ok(cosine[0]! > 0 && cosine[0]! < 1e-4, `first cosine beta ${cosine[0]}`);
    assert.equal(cosine[999], Math.fround(0.999));
  });
});

describe('Euler timesteps and sigmas (SD)', () => {
  it('trailing 4', () => {
    const s = scheduler('euler', { ...SD, timestep_spacing: 'trailing' }, 4);
    assert.deepEqual(s.timesteps, [999, 749, 499, 249]);
    assertClose(s.sigmas!, [14.614647, 4.081731, 1.612887, 0.693205, 0]);
    assertClose([s.initNoiseSigma], [14.614647]);
  });

  it('leading 4, with √(σ_max²+1) initial noise', () => {
    const s = scheduler('euler', { ...SD, timestep_spacing: 'leading' }, 4);
    assert.deepEqual(s.timesteps, [751, 501, 251, 1]);
    // 0.041314 is 0.041314479 rounded; the extra digits keep the check at 1e-5 relative.
    assertClose(s.sigmas!, [4.116698, 1.623693, 0.698399, 0.0413145, 0]);
    assertClose([s.initNoiseSigma], [4.236414]);
  });

  it('linspace 4 and fractional linspace 20', () => {
    const s = scheduler('euler', { ...SD, timestep_spacing: 'linspace' }, 4);
    assert.deepEqual(s.timesteps, [999, 666, 333, 0]);
    assertClose(s.sigmas!, [14.614647, 2.918308, 0.932358, 0.0291675, 0]);
    const twenty = scheduler('euler', { ...SD, timestep_spacing: 'linspace' }, 20);
    assertClose(twenty.timesteps.slice(0, 3), [999, 946.42108, 893.8421]);
    assertClose(twenty.sigmas!.slice(0, 3), [14.614645, 10.746849, 8.0815354]);
  });

  it('trailing 1 and 2 (SD-Turbo)', () => {
    const one = scheduler('euler', { ...SD, timestep_spacing: 'trailing' }, 1);
    assert.deepEqual(one.timesteps, [999]);
    assertClose(one.sigmas!, [14.614647, 0]);
    const two = scheduler('euler', { ...SD, timestep_spacing: 'trailing' }, 2);
    assert.deepEqual(two.timesteps, [999, 499]);
    assertClose(two.sigmas!, [14.614647, 1.612887, 0]);
  });

  it('rounds trailing halves to even like numpy (16 steps)', () => {
    const s = scheduler('euler', { ...SD, timestep_spacing: 'trailing' }, 16);
    assert.deepEqual(s.timesteps.slice(0, 6), [999, 937, 874, 811, 749, 687]);
  });

  it('keeps exactly n trailing timesteps where numpy arange adds a bogus −1 (61 steps)', () => {
    const s = scheduler('euler', { ...SD, timestep_spacing: 'trailing' }, 61);
    assert.equal(s.timesteps.length, 61);
    assert.deepEqual(s.timesteps.slice(-2), [32, 15]);
  });

  it('Karras sigmas from the config (use_karras_sigmas)', () => {
    const config = { ...SD, timestep_spacing: 'leading' as const, use_karras_sigmas: true };
    const s = scheduler('euler', config, 4);
    assertClose(s.timesteps, [751, 411.41541, 69.403152, 1]);
    assertClose(s.sigmas!, [4.1166978, 1.2087777, 0.27338719, 0.041314479, 0]);
  });
});

describe('DDIM, PNDM, LCM timesteps (SD)', () => {
  it('DDIM linspace / leading / trailing 4', () => {
    const spaced = (spacing: 'leading' | 'trailing' | 'linspace') =>
      scheduler('ddim', { ...SD, timestep_spacing: spacing }, 4).timesteps;
    assert.deepEqual(spaced('linspace'), [999, 666, 333, 0]);
    assert.deepEqual(spaced('leading'), [751, 501, 251, 1]);
    assert.deepEqual(spaced('trailing'), [999, 749, 499, 249]);
    assert.equal(scheduler('ddim', SD, 4).sigmas, undefined);
  });

  it('PNDM leading 4 repeats the second timestep', () => {
    assert.deepEqual(scheduler('pndm', SD, 4).timesteps, [751, 501, 501, 251, 1]);
  });

  it('PNDM with its own defaults runs the Runge–Kutta warm-up', () => {
    const s = scheduler('pndm', {}, 10);
    assert.deepEqual(
      s.timesteps,
      [900, 850, 850, 800, 800, 750, 750, 700, 700, 650, 650, 600, 600, 500, 400, 300, 200, 100, 0],
    );
  });

  it('LCM 1 / 2 / 4', () => {
    assert.deepEqual(scheduler('lcm', SD, 1).timesteps, [999]);
    assert.deepEqual(scheduler('lcm', SD, 2).timesteps, [999, 499]);
    assert.deepEqual(scheduler('lcm', SD, 4).timesteps, [999, 759, 499, 259]);
  });
});

describe('DPM++ 2M timesteps and sigmas (SD)', () => {
  it('leading 4 uses n+1 points', () => {
    const s = scheduler('dpmpp_2m', { ...SD, timestep_spacing: 'leading' }, 4);
    assert.deepEqual(s.timesteps, [801, 601, 401, 201]);
    assertClose(s.sigmas!, [5.134433, 2.292855, 1.168216, 0.574051, 0]);
    assert.equal(s.initNoiseSigma, 1);
  });

  it('trailing 4 equals Euler trailing', () => {
    const s = scheduler('dpmpp_2m', { ...SD, timestep_spacing: 'trailing' }, 4);
    const euler = scheduler('euler', { ...SD, timestep_spacing: 'trailing' }, 4);
    assert.deepEqual(s.timesteps, euler.timesteps);
    assertClose(s.sigmas!, euler.sigmas!);
  });

  it('linspace 4', () => {
    const s = scheduler('dpmpp_2m', { ...SD, timestep_spacing: 'linspace' }, 4);
    assert.deepEqual(s.timesteps, [999, 749, 500, 250]);
    assertClose(s.sigmas!, [14.614645, 4.0817308, 1.6182796, 0.69579947, 0]);
  });

  it('Karras sigmas follow the ρ=7 formula over the training σ range', () => {
    // SD's σ_min = σ(0) and σ_max = σ(999), computed here from the betas directly. ᾱ is rounded
    // to float32 like diffusers' tensors: that rounding moves σ(0) by 1.3e-5.
    let product = 1;
    const sigmas: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const root = Math.sqrt(0.00085) + ((Math.sqrt(0.012) - Math.sqrt(0.00085)) * i) / 999;
      product *= Math.fround(1 - Math.fround(root * root));
      const alphaBar = Math.fround(product);
      sigmas.push(Math.sqrt((1 - alphaBar) / alphaBar));
    }
    const [minRoot, maxRoot] = [sigmas[0]! ** (1 / 7), sigmas[999]! ** (1 / 7)];
    const expected = [0, 1, 2, 3].map((i) => (maxRoot + (i / 3) * (minRoot - maxRoot)) ** 7);
    const s = scheduler('dpmpp_2m_karras', SD, 4);
    assertClose(s.sigmas!, [...expected, 0]);
    assertClose(s.sigmas!, [14.614647, 3.168611, 0.446921, 0.0291675, 0]);
    assert.deepEqual(s.timesteps, [999, 687, 146, 0]);
  });
});

describe('denoising an exactly predicted signal', () => {
  for (const name of DETERMINISTIC) {
    for (const prediction of PREDICTIONS) {
      it(`${name} (${prediction}) stays on the exact trajectory and ends at x₀`, () => {
        // set_alpha_to_one makes α-space samplers end exactly at x₀ instead of at ᾱ₀.
        const config = { ...SD, prediction_type: prediction, set_alpha_to_one: true };
        const s = scheduler(name, config, 20);
        const result = denoise(s, prediction, 0, onTrajectory(s, 0));
        // diffusers' PNDM combines raw v outputs of different noise levels before converting them
        // to ε, so with v-prediction it is only approximately exact.
        const approximate = name === 'pndm' && prediction === 'v_prediction';
        const [pathTolerance, finalTolerance] = approximate ? [0.1, 1e-2] : [2e-4, 1e-4];
        assert.ok(result.worstOffTrajectory < pathTolerance, `off by ${result.worstOffTrajectory}`);
        const error = maxAbsDiff(result.final, X0);
        assert.ok(error < finalTolerance, `final error ${error}`);
        assert.equal(result.noiseDraws, 0);
      });
    }
  }

  for (const name of ['euler', 'ddim', 'dpmpp_2m', 'lms', 'lcm'] as const) {
    it(`${name} with sample prediction ends at x₀`, () => {
      const s = scheduler(name, { ...SD, prediction_type: 'sample', set_alpha_to_one: true }, 8);
      const result = denoise(s, 'sample', 0, onTrajectory(s, 0));
      assert.ok(maxAbsDiff(result.final, X0) < 1e-4, `final error ${maxAbsDiff(result.final, X0)}`);
    });
  }

  it('euler_a draws noise on every step but the last and ends at x₀', () => {
    const s = scheduler('euler_a', { ...SD, timestep_spacing: 'trailing' }, 20);
    const result = denoise(s, 'epsilon', 0, onTrajectory(s, 0));
    assert.equal(result.noiseDraws, 19);
    assert.ok(maxAbsDiff(result.final, X0) < 1e-4, `final error ${maxAbsDiff(result.final, X0)}`);
  });

  it('lcm re-noises between steps and returns the denoised latents at 4 steps', () => {
    for (const prediction of PREDICTIONS) {
      const s = scheduler('lcm', { ...SD, prediction_type: prediction }, 4);
      const result = denoise(s, prediction, 0, onTrajectory(s, 0));
      assert.equal(result.noiseDraws, 3);
      assert.ok(maxAbsDiff(result.final, X0) < 1e-4, `final error ${maxAbsDiff(result.final, X0)}`);
    }
  });

  it('ddim without set_alpha_to_one ends at the ᾱ₀ level, as in diffusers', () => {
    const s = scheduler('ddim', SD, 20);
    const { final } = denoise(s, 'epsilon', 0, onTrajectory(s, 0));
    const a0 = SD_ALPHAS[0]!;
    const expected = X0.map((x0, i) => Math.sqrt(a0) * x0 + Math.sqrt(1 - a0) * EPS[i]!);
    assert.ok(maxAbsDiff(final, expected) < 1e-4);
    assert.ok(maxAbsDiff(final, X0) > 1e-2, 'should not be exactly x₀');
  });
});

describe('img2img: addNoise then denoising from that step', () => {
  for (const name of SCHEDULER_NAMES) {
    it(`${name} recovers x₀ from step 6 of 20`, () => {
      const steps = name === 'lcm' ? 8 : 20;
      const start = name === 'lcm' ? 2 : 6;
      const s = scheduler(name, { ...SD, set_alpha_to_one: true }, steps);
      const noised = s.addNoise(X0, EPS, start);
      assert.ok(maxAbsDiff(noised, onTrajectory(s, start)) < 1e-5, 'addNoise level');
      const result = denoise(s, 'epsilon', start, new Float32Array(noised));
      // PNDM's second step re-does the first over a repeated timestep, which only the start of
      // its schedule has; from mid-schedule diffusers (and so Pictor) then runs one level off.
      const inexact = name === 'pndm';
      const error = maxAbsDiff(result.final, X0);
      assert.ok(error < (inexact ? 5e-3 : 1e-4), `final error ${error}`);
      if (!ANCESTRAL.includes(name) && !inexact) {
        assert.ok(result.worstOffTrajectory < 2e-4, `off by ${result.worstOffTrajectory}`);
      }
    });
  }
});

describe('matches diffusers on a model that is not exact', () => {
  // With the exact oracle above, multistep corrections vanish (every step sees the same x₀ or ε),
  // so these runs use a made-up UNet instead. Expected final latents come from a line-by-line
  // Python port of diffusers' scheduling_*.py run with torch 1.13 (not part of the repository).
  const toyUnet = (x: Float32Array, i: number): Float32Array =>
    x.map((v, j) => 0.8 * v * Math.cos(0.37 * i + 0.1 * j) + 0.3 * Math.sin(0.5 * j + i));
  const toyNoise = (i: number): Float32Array =>
    Float32Array.from([0, 1, 2, 3], (j) => Math.sin(1.3 * i + 2.1 * j + 0.4));
  const leading: SchedulerConfig = { ...SD, timestep_spacing: 'leading' };
  const cases: [SchedulerName, string, SchedulerConfig, number, number[]][] = [
    ['euler', 'SD', leading, 6, [-0.7763678, -1.7161231, 1.5579369, -1.2296407]],
    ['euler_a', 'SD', leading, 6, [0.0657265, -1.5905297, -0.0302206, 0.3315319]],
    ['ddim', 'SD', leading, 6, [-0.7794083, -1.706864, 1.5383786, -1.2118634]],
    ['dpmpp_2m', 'SD', leading, 6, [-0.9762695, -2.2384315, 2.7165666, -1.4241283]],
    ['dpmpp_2m_karras', 'SD', leading, 6, [-1.4891864, -2.3245864, 2.7065704, -0.8872608]],
    ['lms', 'SD', leading, 6, [-0.7677972, -1.816539, 1.8960919, -1.3026648]],
    ['pndm', 'SD', leading, 6, [-1.2776868, -2.6160066, 3.840997, -1.1617869]],
    [
      'pndm',
      'its defaults (Runge–Kutta)',
      {},
      5,
      [-11.6870489, -22.1239395, 27.0232048, -7.4414592],
    ],
    [
      'lcm',
      'SD, timestep_scaling 0.002',
      { ...leading, timestep_scaling: 0.002 },
      4,
      [0.1245964, -2.4385777, -1.5677547, 0.0179251],
    ],
    [
      'dpmpp_2m',
      'SD, v-prediction, trailing',
      { ...SD, prediction_type: 'v_prediction', timestep_spacing: 'trailing' },
      6,
      [-0.0455703, -0.3296711, 1.0184181, -0.1360363],
    ],
  ];
  for (const [name, label, config, steps, expected] of cases) {
    it(`${name} with ${label}, ${steps} steps`, () => {
      const s = scheduler(name, config, steps);
      let x: Float32Array = toyNoise(99).map((v) => v * s.initNoiseSigma);
      for (let i = 0; i < s.timesteps.length; i++) {
        x = s.step(toyUnet(s.scaleModelInput(x, i), i), i, x, () => toyNoise(i));
      }
      assertClose([...x], expected, 1e-4);
    });
  }
});

describe('stepping behaviour', () => {
  it('only euler_a and lcm call drawNoise', () => {
    for (const name of SCHEDULER_NAMES) {
      const s = scheduler(name, SD, 4);
      const result = denoise(s, 'epsilon', 0, onTrajectory(s, 0));
      assert.equal(result.noiseDraws > 0, ANCESTRAL.includes(name), name);
    }
  });

  it('multistep schedulers restart cleanly when the loop starts over', () => {
    for (const name of ['dpmpp_2m', 'lms', 'pndm'] as const) {
      const s = scheduler(name, SD, 10);
      const first = new Float32Array(denoise(s, 'epsilon', 0, onTrajectory(s, 0)).final);
      const again = new Float32Array(denoise(s, 'epsilon', 0, onTrajectory(s, 0)).final);
      assert.deepEqual(again, first, name);
    }
  });

  it('never returns the input array and does not modify it', () => {
    const s = scheduler('euler', SD, 4);
    const sample = new Float32Array(EPS);
    const out = s.step(oracle(s, 0, s.scaleModelInput(sample, 0), 'epsilon'), 0, sample, () => {
      throw new Error('not expected');
    });
    assert.notEqual(out, sample);
    assert.deepEqual(sample, EPS);
  });

  it('scales the Euler model input by 1/√(σ²+1)', () => {
    const s = scheduler('euler', { ...SD, timestep_spacing: 'trailing' }, 4);
    const scaled = s.scaleModelInput(new Float32Array([14.614647, 1]), 0);
    const norm = Math.sqrt(14.614647 ** 2 + 1);
    assertClose([...scaled], [14.614647 / norm, 1 / norm], 1e-5);
    const ddim = scheduler('ddim', SD, 4);
    const sample = new Float32Array([1, 2]);
    assert.equal(ddim.scaleModelInput(sample, 0), sample);
  });
});

describe('configuration', () => {
  it('maps diffusers class names', () => {
    const map = (config: SchedulerConfig) => schedulerNameForConfig(config);
    assert.equal(map({ _class_name: 'EulerDiscreteScheduler' }), 'euler');
    assert.equal(map({ _class_name: 'EulerAncestralDiscreteScheduler' }), 'euler_a');
    assert.equal(map({ _class_name: 'DDIMScheduler' }), 'ddim');
    assert.equal(map({ _class_name: 'DPMSolverMultistepScheduler' }), 'dpmpp_2m');
    assert.equal(
      map({ _class_name: 'DPMSolverMultistepScheduler', use_karras_sigmas: true }),
      'dpmpp_2m_karras',
    );
    assert.equal(map({ _class_name: 'LMSDiscreteScheduler' }), 'lms');
    assert.equal(map({ _class_name: 'PNDMScheduler' }), 'pndm');
    assert.equal(map({ _class_name: 'LCMScheduler' }), 'lcm');
  });

  it('returns undefined for classes and DPM variants it cannot reproduce', () => {
    const map = (config: SchedulerConfig) => schedulerNameForConfig(config);
    assert.equal(map({ _class_name: 'UniPCMultistepScheduler' }), undefined);
    assert.equal(map({ _class_name: 'FlowMatchEulerDiscreteScheduler' }), undefined);
    assert.equal(map({}), undefined);
    const dpm = { _class_name: 'DPMSolverMultistepScheduler' };
    assert.equal(map({ ...dpm, algorithm_type: 'sde-dpmsolver++' }), undefined);
    assert.equal(map({ ...dpm, solver_order: 3 }), undefined);
  });

  it('fills missing fields with each class’s diffusers defaults', () => {
    assert.deepEqual(scheduler('ddim', {}, 4).timesteps, [750, 500, 250, 0]);
    assert.deepEqual(scheduler('euler', {}, 4).timesteps, [999, 666, 333, 0]);
    assert.deepEqual(scheduler('dpmpp_2m', {}, 4).timesteps, [999, 749, 500, 250]);
    // LCM's betas default to SD's, not DDPM's.
    assertClose(scheduler('lcm', {}, 1).timesteps, [999]);
  });

  it('rejects bad step counts', () => {
    for (const name of SCHEDULER_NAMES) {
      const s = createScheduler(name, SD);
      assert.throws(() => s.setTimesteps(0), /positive integer/);
      assert.throws(() => s.setTimesteps(2.5), /positive integer/);
      assert.throws(() => s.setTimesteps(1001), /cannot exceed/);
    }
    assert.throws(() => createScheduler('lcm', SD).setTimesteps(51), /original_inference_steps/);
  });

  it('rejects unknown names, malformed fields and unsupported options', () => {
    assert.throws(() => createScheduler('heun' as SchedulerName, SD), /Unknown scheduler 'heun'/);
    const textual = { ...SD, beta_start: '0.1' } as unknown as SchedulerConfig;
    assert.throws(() => createScheduler('euler', textual), /must be a number/);
    assert.throws(
      () => createScheduler('euler', { ...SD, timestep_spacing: 'even' as 'leading' }),
      /timestep_spacing/,
    );
    assert.throws(() => createScheduler('euler_a', { ...SD, prediction_type: 'sample' }), /sample/);
    assert.throws(() => createScheduler('dpmpp_2m', { ...SD, use_lu_lambdas: true }), /use_lu/);
    assert.throws(
      () => createScheduler('dpmpp_2m', { ...SD, variance_type: 'learned' }),
      /learned/,
    );
    // Options that do not change the scheduler's maths are accepted.
    createScheduler('dpmpp_2m', { ...SD, variance_type: 'fixed_small', thresholding: false });
    assert.throws(() => createScheduler('ddim', { ...SD, thresholding: true }), /thresholding/);
    assert.throws(() => createScheduler('pndm', SD).step(EPS, 0, EPS, () => EPS), /setTimesteps/);
    assert.throws(() => scheduler('euler', SD, 4).step(EPS, 4, EPS, () => EPS), /outside/);
  });
});
