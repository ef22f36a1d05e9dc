/**
 * Argument checks shared by the schedulers. They throw plain `Error`s with messages meant for the
 * API caller (a bad `steps` value usually comes straight from a request).
 */

/** `steps` must be an integer in [1, trainSteps]. */
export function assertStepCount(steps: number, trainSteps: number): void {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new Error(`Inference steps must be a positive integer, got ${steps}`);
  }
  if (steps > trainSteps) {
    throw new Error(
      `Inference steps (${steps}) cannot exceed the model's ${trainSteps} training timesteps`,
    );
  }
}

/** `stepIndex` must address an entry of the current `timesteps`. */
export function assertStepIndex(stepIndex: number, timestepCount: number): void {
  if (timestepCount === 0) throw new Error('Call setTimesteps before stepping the scheduler');
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= timestepCount) {
    throw new Error(`Step index ${stepIndex} is outside the schedule [0, ${timestepCount - 1}]`);
  }
}

/** Every timestep must index the training schedule (ᾱ lookups). */
export function assertTimestepsInRange(timesteps: readonly number[], trainSteps: number): void {
  for (const t of timesteps) {
    if (t < 0 || t > trainSteps - 1) {
      throw new Error(
        `Timestep ${t} is outside the training range [0, ${trainSteps - 1}]; lower steps or steps_offset`,
      );
    }
  }
}

/** Tensors combined element-wise must have the same length. */
export function assertSameLength(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) {
    throw new Error(`${what} has ${b.length} elements, expected ${a.length}`);
  }
}
