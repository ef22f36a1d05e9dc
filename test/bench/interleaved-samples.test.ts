import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interleave, loadRange, median, minMedian } from '../../bench/interleaved-samples.ts';

test('variants run in turns, A B C A B C, each sample reported as it finishes', () => {
  const order: string[] = [];
  const reported: string[] = [];
  const samples = interleave(
    2,
    [
      ['a', (round) => (order.push(`a${round}`), round * 10)],
      ['b', (round) => (order.push(`b${round}`), round * 10 + 1)],
    ],
    (label, round, sample) => reported.push(`${label}${round}=${sample}`),
  );
  assert.deepEqual(order, ['a0', 'b0', 'a1', 'b1']);
  assert.deepEqual(reported, ['a0=0', 'b0=1', 'a1=10', 'b1=11']);
  assert.deepEqual(
    [...samples],
    [
      ['a', [0, 10]],
      ['b', [1, 11]],
    ],
  );
});

test('median: the middle sample, or the mean of the middle two', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('min / median in seconds skip the samples a variant did not give', () => {
  assert.equal(minMedian([3000, NaN, 1000, 2000]), '1.00 / 2.00');
  assert.equal(minMedian([NaN]), '-');
  assert.equal(loadRange([12.5, 18, 14]), '12.5–18');
  assert.equal(loadRange([3]), '3');
});
