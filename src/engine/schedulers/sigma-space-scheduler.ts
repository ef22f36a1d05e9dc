import type { NoiseSchedule } from './noise-schedule.ts';
import { OutputBuffers } from './output-buffers.ts';
import type { PredictionType } from './prediction.ts';
import type { Scheduler, SchedulerName } from './scheduler.ts';
import { sigmaSchedule, type SigmaScheduleOptions } from './sigma-schedule.ts';
import { assertSameLength, assertStepCount, assertStepIndex } from './step-checks.ts';

/** The parts of {@link SigmaScheduleOptions} fixed by the config. */
export type SigmaScheduleSettings = Omit<SigmaScheduleOptions, 'alphasCumprod' | 'steps'>;

/**
 * Shared machinery of the Euler family (Euler, Euler ancestral, LMS), which step in σ-space:
 * x = x₀ + σ·ε, with the UNet fed x/√(σ²+1). Subclasses implement `step` only.
 */
export abstract class SigmaSpaceScheduler implements Scheduler {
  abstract readonly name: SchedulerName;
  readonly order = 1;
  timesteps: readonly number[] = [];
  sigmas: readonly number[] = [];
  initNoiseSigma = 1;

  protected readonly noiseSchedule: NoiseSchedule;
  protected readonly prediction: PredictionType;
  protected readonly outputs = new OutputBuffers();
  private readonly settings: SigmaScheduleSettings;
  private readonly scaled = new OutputBuffers();
  private readonly noised = new OutputBuffers();

  constructor(
    noiseSchedule: NoiseSchedule,
    prediction: PredictionType,
    settings: SigmaScheduleSettings,
  ) {
    this.noiseSchedule = noiseSchedule;
    this.prediction = prediction;
    this.settings = settings;
  }

  setTimesteps(steps: number): void {
    assertStepCount(steps, this.noiseSchedule.trainSteps);
    const schedule = sigmaSchedule({
      ...this.settings,
      alphasCumprod: this.noiseSchedule.alphasCumprod,
      steps,
    });
    this.timesteps = schedule.timesteps;
    this.sigmas = schedule.sigmas;
    this.initNoiseSigma = schedule.initNoiseSigma;
    this.resetHistory();
  }

  /** Returns `sample / √(σ²+1)` in a scheduler-owned array, reused by the next call. */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    assertStepIndex(stepIndex, this.timesteps.length);
    const sigma = this.sigmas[stepIndex]!;
    // The divisor is a float32 scalar in diffusers; float32 division by it is then bit-identical.
    const divisor = Math.fround(Math.sqrt(Math.fround(Math.fround(sigma * sigma) + 1)));
    const out = this.scaled.take(sample.length, [sample]);
    for (let i = 0; i < sample.length; i++) out[i] = sample[i]! / divisor;
    return out;
  }

  /** Returns `original + σ·noise` in a scheduler-owned array, reused by the next call. */
  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    assertStepIndex(stepIndex, this.timesteps.length);
    assertSameLength(original, noise, 'Noise');
    const sigma = this.sigmas[stepIndex]!;
    const out = this.noised.take(original.length, [original, noise]);
    for (let i = 0; i < original.length; i++) out[i] = original[i]! + noise[i]! * sigma;
    return out;
  }

  abstract step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    drawNoise: () => Float32Array,
  ): Float32Array;

  /** Called by `setTimesteps`; multistep subclasses forget their history here. */
  protected resetHistory(): void {}

  /** Validates a `step` call and returns the array to write its result into. */
  protected beginStep(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
  ): Float32Array {
    assertStepIndex(stepIndex, this.timesteps.length);
    assertSameLength(sample, modelOutput, 'Model output');
    return this.outputs.take(sample.length, [sample, modelOutput]);
  }
}
