import { AlphaSpaceScheduler } from './alpha-space-scheduler.ts';
import { readBoolean, rejectUnsupported } from './config-values.ts';
import { History } from './history.ts';
import { DDPM_BETAS, noiseSchedule } from './noise-schedule.ts';
import { pndmTimesteps } from './pndm-timesteps.ts';
import type { SchedulerConfig } from './scheduler.ts';
import { readSpacingAndPrediction } from './spacing-prediction-config.ts';
import { assertStepCount, assertTimestepsInRange } from './step-checks.ts';
import type { TimestepSpacing } from './timestep-spacing.ts';

/** PLMS (Adams–Bashforth) weights by how many model outputs are stored, newest first. */
const PLMS_WEIGHTS: Readonly<Record<number, readonly number[]>> = {
  2: [3 / 2, -1 / 2],
  3: [23 / 12, -16 / 12, 5 / 12],
  4: [55 / 24, -59 / 24, 37 / 24, -9 / 24],
};

/**
 * diffusers' `PNDMScheduler` (pseudo linear multistep, arXiv 2202.09778). With `skip_prk_steps`
 * (SD's configs) it is crowsonkb's PLMS: a two-evaluation first step over the repeated second
 * timestep, then 2nd-, 3rd- and 4th-order Adams–Bashforth on the stored ε. Without it, four
 * Runge–Kutta steps (12 evaluations) warm up the history first. Deterministic; never calls
 * `drawNoise`.
 *
 * State: a step counter, the last four model outputs and the Runge–Kutta accumulators. A `step`
 * whose index is not the previous one + 1 starts a new run, like diffusers after `set_timesteps`.
 * As in diffusers, the previous timestep is `t − trainSteps // steps` whatever the spacing, and the
 * Runge–Kutta phase reads its base timestep by run counter, so only a run from index 0 is meaningful
 * in that mode.
 *
 * Config: `prediction_type` (epsilon, v_prediction), `timestep_spacing` (default leading),
 * `steps_offset`, `skip_prk_steps` (default false), `set_alpha_to_one` (default false).
 */
export class PndmScheduler extends AlphaSpaceScheduler {
  readonly name = 'pndm';
  private readonly spacing: TimestepSpacing;
  private readonly stepsOffset: number;
  private readonly skipPrk: boolean;
  private prkTimesteps: number[] = [];
  private stride = 1;
  private counter = 0;
  private nextIndex = 0;
  private readonly ets = new History(4);
  private curSample = new Float32Array(0);
  private curModelOutput = new Float32Array(0);
  private combined = new Float32Array(0);

  constructor(config: SchedulerConfig) {
    const { spacing, stepsOffset, prediction } = readSpacingAndPrediction(config, {
      spacing: 'leading',
      predictions: ['epsilon', 'v_prediction'],
    });
    rejectUnsupported('pndm', config, { trained_betas: () => true });
    const schedule = noiseSchedule(config, { ...DDPM_BETAS, zeroSnr: 'unsupported' });
    super(schedule, prediction, readBoolean(config, 'set_alpha_to_one', false));
    this.spacing = spacing;
    this.stepsOffset = stepsOffset;
    this.skipPrk = readBoolean(config, 'skip_prk_steps', false);
  }

  setTimesteps(steps: number): void {
    const { trainSteps } = this.noiseSchedule;
    assertStepCount(steps, trainSteps);
    const { prk, plms } = pndmTimesteps(
      this.spacing,
      steps,
      trainSteps,
      this.stepsOffset,
      this.skipPrk,
    );
    const timesteps = [...prk, ...plms];
    assertTimestepsInRange(timesteps, trainSteps);
    this.timesteps = timesteps;
    this.prkTimesteps = prk;
    this.stride = Math.floor(trainSteps / steps);
    this.startRun(0);
  }

  step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    _drawNoise: () => Float32Array,
  ): Float32Array {
    const out = this.beginStep(modelOutput, stepIndex, sample);
    if (stepIndex !== this.nextIndex) this.startRun(stepIndex);
    this.nextIndex = stepIndex + 1;
    this.ensureScratch(sample.length);
    const t = this.timesteps[stepIndex]!;
    if (this.counter < this.prkTimesteps.length) this.stepPrk(out, modelOutput, t, sample);
    else this.stepPlms(out, modelOutput, t, sample);
    this.counter++;
    return out;
  }

  /** One Runge–Kutta sub-step; all four start from the sample saved at the group's first step. */
  private stepPrk(out: Float32Array, m: Float32Array, t: number, sample: Float32Array): void {
    const phase = this.counter % 4;
    const prev = phase % 2 === 1 ? t : t - Math.floor(this.stride / 2);
    const base = this.prkTimesteps[this.counter - phase]!;
    const acc = this.curModelOutput;
    let effective = m;
    if (phase === 0) {
      this.ets.push(m.length).set(m);
      this.curSample.set(sample);
      for (let i = 0; i < acc.length; i++) acc[i] = m[i]! / 6;
    } else if (phase < 3) {
      for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + m[i]! / 3;
    } else {
      effective = this.combined;
      for (let i = 0; i < acc.length; i++) effective[i] = acc[i]! + m[i]! / 6;
    }
    this.previousSample(out, this.curSample, base, prev, effective);
  }

  /** One PLMS step; the second step of a run re-does the first with the averaged ε (Heun-like). */
  private stepPlms(out: Float32Array, m: Float32Array, t: number, sample: Float32Array): void {
    let prev = t - this.stride;
    let from = t;
    let x = sample;
    let effective = m;
    if (this.counter === 1) {
      prev = t;
      from = t + this.stride;
      x = this.curSample;
      effective = this.combined;
      const first = this.ets.get(0);
      for (let i = 0; i < m.length; i++) effective[i] = (m[i]! + first[i]!) / 2;
    } else {
      this.ets.push(m.length).set(m);
      if (this.ets.size === 1 && this.counter === 0) this.curSample.set(sample);
      else effective = this.adamsBashforth();
    }
    this.previousSample(out, x, from, prev, effective);
  }

  private adamsBashforth(): Float32Array {
    const weights = PLMS_WEIGHTS[this.ets.size]!;
    const [w0 = 0, w1 = 0, w2 = 0, w3 = 0] = weights;
    const e0 = this.ets.get(0);
    const e1 = this.ets.size > 1 ? this.ets.get(1) : e0;
    const e2 = this.ets.size > 2 ? this.ets.get(2) : e0;
    const e3 = this.ets.size > 3 ? this.ets.get(3) : e0;
    const out = this.combined;
    for (let i = 0; i < out.length; i++) {
      out[i] = w0 * e0[i]! + w1 * e1[i]! + w2 * e2[i]! + w3 * e3[i]!;
    }
    return out;
  }

  /** Formula (9) of the PNDM paper: x_prev from x_t and ε (a v-prediction is converted first). */
  private previousSample(
    out: Float32Array,
    x: Float32Array,
    t: number,
    prev: number,
    modelOutput: Float32Array,
  ): void {
    const a = this.alphaCumprodAt(t);
    const ap = this.alphaCumprodAt(prev);
    const b = 1 - a;
    const sampleCoeff = Math.sqrt(ap / a);
    const epsCoeff = -(ap - a) / (a * Math.sqrt(1 - ap) + Math.sqrt(a * b * ap));
    // ε = √ᾱ·v + √(1−ᾱ)·x for v-prediction, else the output itself.
    const v = this.prediction === 'v_prediction';
    const onModel = v ? Math.sqrt(a) : 1;
    const onSample = v ? Math.sqrt(b) : 0;
    const xCoeff = sampleCoeff + epsCoeff * onSample;
    const mCoeff = epsCoeff * onModel;
    for (let i = 0; i < out.length; i++) out[i] = xCoeff * x[i]! + mCoeff * modelOutput[i]!;
  }

  private startRun(stepIndex: number): void {
    this.counter = 0;
    this.nextIndex = stepIndex;
    this.ets.clear();
  }

  private ensureScratch(length: number): void {
    if (this.combined.length === length) return;
    this.curSample = new Float32Array(length);
    this.curModelOutput = new Float32Array(length);
    this.combined = new Float32Array(length);
  }
}
