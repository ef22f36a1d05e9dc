// The default ONNX Runtime threads per inference worker: the cores shared out among the workers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { intraOpThreadsPerWorker } from '../../src/cli/worker-threads.ts';

test('0 divides the cores among the workers, at least one each; a configured number wins', () => {
  assert.equal(intraOpThreadsPerWorker(0, 1, 8), 8);
  assert.equal(intraOpThreadsPerWorker(0, 2, 8), 4);
  assert.equal(intraOpThreadsPerWorker(0, 3, 8), 2);
  assert.equal(intraOpThreadsPerWorker(0, 2, 2), 1);
  assert.equal(intraOpThreadsPerWorker(0, 4, 2), 1, 'never none');
  assert.equal(intraOpThreadsPerWorker(3, 2, 8), 3);
  assert.ok(intraOpThreadsPerWorker(0, 1) >= 1, "this machine's cores");
});
