import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GaussianNoise } from '../../src/engine/random/gaussian-noise.ts';

test('the same seed gives the same stream; different seeds differ', () => {
  const a = new GaussianNoise(42).fill(new Float32Array(1000));
  const b = new GaussianNoise(42).fill(new Float32Array(1000));
  const c = new GaussianNoise(43).fill(new Float32Array(1000));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('the stream is pinned: these numbers must never change (reproducibility across versions)', () => {
  const values = Array.from(new GaussianNoise(1234).fill(new Float32Array(4)));
  const pinned = [
    -0.7646589279174805, -1.0087642669677734, -0.13524116575717926, 1.509434700012207,
  ];
  values.forEach((value, i) =>
    assert.ok(Math.abs(value - (pinned[i] ?? NaN)) < 1e-7, `value ${i}: ${value}`),
  );
});

test('samples are standard normal', () => {
  const samples = new GaussianNoise(7).fill(new Float32Array(200_000));
  const mean = samples.reduce((sum, x) => sum + x, 0) / samples.length;
  const variance = samples.reduce((sum, x) => sum + (x - mean) ** 2, 0) / samples.length;
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.01, `variance ${variance}`);
  const beyond2 = samples.filter((x) => Math.abs(x) > 2).length / samples.length;
  assert.ok(Math.abs(beyond2 - 0.0455) < 0.003, `tail mass ${beyond2}`);
});

test('seeds above 2^32 use their high bits', () => {
  const low = new GaussianNoise(5).fill(new Float32Array(8));
  const high = new GaussianNoise(5 + 2 ** 32).fill(new Float32Array(8));
  assert.notDeepEqual(low, high);
});
