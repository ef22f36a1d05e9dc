/**
 * Scheduler-owned result arrays, reused from call to call so a denoising loop stops allocating after
 * its first steps. `take` never hands out an array the caller passed in, so `step(…, sample)` may be
 * given the previous step's result while writing the next one, and that previous result stays intact
 * until the step after.
 */
export class OutputBuffers {
  private buffers: Float32Array[] = [];

  /** An owned array of `length` elements that is not one of `inUse`. Contents are stale. */
  take(length: number, inUse: readonly Float32Array[]): Float32Array {
    if (this.buffers[0] !== undefined && this.buffers[0].length !== length) this.buffers = [];
    for (const buffer of this.buffers) if (!inUse.includes(buffer)) return buffer;
    const fresh = new Float32Array(length);
    this.buffers.push(fresh);
    return fresh;
  }
}
