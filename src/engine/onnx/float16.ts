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

export function float32ToHalf(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toHalfBits(values[i] ?? 0);
  return out;
}

export function halfToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = fromHalfBits(bits[i] ?? 0);
  return out;
}
