/**
 * Pictor's own seeded noise: xoshiro128** (seeded through splitmix32) feeding a Box–Muller
 * transform. Integer math plus V8's deterministic `Math.log`/`Math.cos` give the same numbers on
 * every machine, so a seed reproduces an image anywhere, independent of ONNX Runtime or the GPU.
 */
export class GaussianNoise {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  #spare: number | undefined;

  /** `seed` is any integer in [0, 2^53); both 32-bit halves seed the state. */
  constructor(seed: number) {
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x9e3779b9);
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
  }

  /** A uniform 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** A uniform float in (0, 1), never exactly 0 so the logarithm stays finite. */
  nextUniform(): number {
    return (this.nextUint32() + 0.5) / 4294967296;
  }

  /** A standard normal sample. */
  nextGaussian(): number {
    if (this.#spare !== undefined) {
      const spare = this.#spare;
      this.#spare = undefined;
      return spare;
    }
    const radius = Math.sqrt(-2 * Math.log(this.nextUniform()));
    const angle = 2 * Math.PI * this.nextUniform();
    this.#spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** Fills `target` with standard normal samples and returns it. */
  fill(target: Float32Array): Float32Array {
    for (let i = 0; i < target.length; i++) target[i] = this.nextGaussian();
    return target;
  }
}

function rotl(value: number, shift: number): number {
  return (value << shift) | (value >>> (32 - shift));
}

/** A random seed for requests that gave none: uniform in [0, 2^32). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 4294967296);
}
