import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  float32ToHalf,
  fromHalfBits,
  halfToFloat32,
  toHalfBits,
} from '../../src/engine/onnx/float16.ts';

test('half conversion matches IEEE 754 binary16 bit patterns', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds to infinity
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -14, 0x0400], // smallest normal
    [0.1, 0x2e66],
    [Infinity, 0x7c00],
  ];
  for (const [value, bits] of cases) assert.equal(toHalfBits(value), bits, `toHalfBits(${value})`);
  assert.ok(Number.isNaN(fromHalfBits(toHalfBits(NaN))));
});

test('round trip keeps every finite half value exactly', () => {
  for (let bits = 0; bits < 0x10000; bits++) {
    if ((bits & 0x7c00) === 0x7c00) continue;
    assert.equal(toHalfBits(fromHalfBits(bits)), bits);
  }
});

test('array helpers convert both ways', () => {
  const values = new Float32Array([0.5, -1.25, 3, 1000]);
  assert.deepEqual(Array.from(halfToFloat32(float32ToHalf(values))), [0.5, -1.25, 3, 1000]);
});

test('the array conversion (native Float16Array where the runtime has it) rounds like toHalfBits', () => {
  const values = new Float32Array(100_000);
  for (let i = 0; i < values.length; i++) {
    values[i] = (Math.random() - 0.5) * 2 ** (Math.floor(Math.random() * 40) - 26);
  }
  const halves = float32ToHalf(values);
  for (let i = 0; i < values.length; i++)
    assert.equal(halves[i], toHalfBits(values[i] ?? 0), `value ${values[i]}`);
});

test('halfToFloat32 decodes every half value like fromHalfBits', () => {
  const all = Uint16Array.from({ length: 0x10000 }, (_, i) => i);
  const floats = halfToFloat32(all);
  for (let bits = 0; bits < 0x10000; bits++) {
    const expected = fromHalfBits(bits);
    if (Number.isNaN(expected)) assert.ok(Number.isNaN(floats[bits]));
    else assert.equal(floats[bits], expected, `bits ${bits}`);
  }
});
