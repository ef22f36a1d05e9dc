import type { NoiseSchedule } from './noise-schedule.ts';
import { OutputBuffers } from './output-buffers.ts';
import type { PredictionType } from './prediction.ts';
import type { Scheduler, SchedulerName } from './scheduler.ts';
import { assertSameLength, assertStepIndex } from './step-checks.ts';

/**
 * Shared machinery of the schedulers that work with ᾱ directly (DDIM, PNDM, LCM):
 * x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε, integer timesteps, unit initial noise and an unscaled UNet input.
 */
export abstract class AlphaSpaceScheduler implements Scheduler {
  abstract readonly name: SchedulerName;
  readonly order = 1;
  readonly sigmas = undefined;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];

  protected readonly noiseSchedule: NoiseSchedule;
  protected readonly prediction: PredictionType;
  /** ᾱ used past the end of the schedule: 1 (`set_alpha_to_one`) or ᾱ₀. */
  protected readonly finalAlphaCumprod: number;
  protected readonly outputs = new OutputBuffers();
  private readonly noised = new OutputBuffers();

  constructor(noiseSchedule: NoiseSchedule, prediction: PredictionType, setAlphaToOne: boolean) {
    this.noiseSchedule = noiseSchedule;
    this.prediction = prediction;
    this.finalAlphaCumprod = setAlphaToOne ? 1 : noiseSchedule.alphasCumprod[0]!;
  }

  abstract setTimesteps(steps: number): void;

  abstract step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    drawNoise: () => Float32Array,
  ): Float32Array;

  /** The UNet input needs no scaling here: returns `sample` itself. */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    assertStepIndex(stepIndex, this.timesteps.length);
    return sample;
  }

  /** Returns `√ᾱ·original + √(1−ᾱ)·noise` at `timesteps[stepIndex]`, in an array reused by the next call. */
  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    assertStepIndex(stepIndex, this.timesteps.length);
    assertSameLength(original, noise, 'Noise');
    const alphaProd = this.alphaCumprodAt(this.timesteps[stepIndex]!);
    const signal = Math.sqrt(alphaProd);
    const noiseScale = Math.sqrt(1 - alphaProd);
    const out = this.noised.take(original.length, [original, noise]);
    for (let i = 0; i < out.length; i++) out[i] = signal * original[i]! + noiseScale * noise[i]!;
    return out;
  }

  /** ᾱ at training timestep `t`, or the final ᾱ for the negative "previous" timestep of the last step. */
  protected alphaCumprodAt(t: number): number {
    return t >= 0 ? this.noiseSchedule.alphasCumprod[t]! : this.finalAlphaCumprod;
  }

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
