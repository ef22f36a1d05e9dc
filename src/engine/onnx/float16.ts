// IEEE 754 half-precision conversions for models with fp16 inputs and outputs. Node 22 has no
// Float16Array, and ONNX Runtime wants the raw half bits in a Uint16Array.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Converts one float to half bits, rounding to nearest even like the hardware does. */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    const rounded = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const up = remainder > halfway || (remainder === halfway && (rounded & 1) === 1);
    return sign | (rounded + (up ? 1 : 0));
  }
  const rounded = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  const up = remainder > 0x1000 || (remainder === 0x1000 && (rounded & 1) === 1);
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | (rounded + (up ? 1 : 0));
}

/** Converts half bits to a float. */
export function fromHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

type Float16ArrayConstructor = new (values: Float32Array) => ArrayBufferView;
const NativeFloat16Array = (globalThis as { Float16Array?: Float16ArrayConstructor }).Float16Array;

export function float32ToHalf(values: Float32Array): Uint16Array {
  if (NativeFloat16Array) {
    // Node 24+: the engine's own conversion, ~20× faster than the loop below, same rounding.
    const half = new NativeFloat16Array(values);
    return new Uint16Array(half.buffer, half.byteOffset, values.length);
  }
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toHalfBits(values[i] ?? 0);
  return out;
}

let halfTable: Float32Array | undefined;

export function halfToFloat32(bits: Uint16Array): Float32Array {
  if (NativeFloat16Array) {
    const NativeHalf = NativeFloat16Array as unknown as new (
      buffer: ArrayBufferLike,
      offset: number,
      length: number,
    ) => ArrayLike<number>;
    return Float32Array.from(new NativeHalf(bits.buffer, bits.byteOffset, bits.length));
  }
  // All 65,536 half values, decoded once: a lookup per element beats the arithmetic.
  halfTable ??= Float32Array.from({ length: 0x10000 }, (_, b) => fromHalfBits(b));
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfTable[bits[i] ?? 0] ?? 0;
  return out;
}
