// Which execution provider runs, and what a machine without it is told: `/v1/health/ready`
// lists each worker's provider; `workers.devices: [cuda]` on a machine without CUDA's libraries
// fails readiness naming the provider (a real ONNX Runtime and the tiny model), and the start's
// hint is about the provider, not the model's path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unavailableModelHint } from '../../src/cli/model-hint.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

test('readiness lists the execution provider of each worker', async () => {
  const pictor = await startPictor(testConfig({ PICTOR_WORKERS__DEVICES: 'cpu' }), 5);
  try {
    const response = await pictor.app.inject({ method: 'GET', url: '/v1/health/ready' });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json<{ execution_providers: string[] }>().execution_providers, [
      'cpu',
    ]);
  } finally {
    await pictor.stop();
  }
});

test('cuda without its libraries: readiness names the provider and why', async (t) => {
  const pictor = await startPictor(
    testConfig({
      PICTOR_WORKERS__ENGINE: 'onnx',
      PICTOR_WORKERS__DEVICES: 'cuda',
      PICTOR_MODELS__PRELOAD: 'tiny',
    }),
  );
  try {
    const response = await pictor.app.inject({ method: 'GET', url: '/v1/health/ready' });
    const body = response.json<{
      execution_providers: string[];
      checks: Record<string, { status: string; reason?: string }>;
    }>();
    assert.deepEqual(body.execution_providers, ['cuda']);
    if (response.statusCode === 200) {
      t.skip('this machine runs CUDA');
      return;
    }
    assert.equal(response.statusCode, 503);
    assert.match(body.checks['model']?.reason ?? '', /execution provider 'cuda'/);
    assert.doesNotMatch(body.checks['model']?.reason ?? '', /does not exist/);
    const hint = unavailableModelHint(body.checks['model']?.reason ?? '', '/models/tiny');
    assert.match(hint, /workers\.devices asks for 'cuda'/);
    assert.match(hint, /CUDA 12 and cuDNN 9/);
    assert.doesNotMatch(hint, /expected at/);
  } finally {
    await pictor.stop();
  }
});

test('a model that is missing is still pointed at its path', () => {
  assert.match(
    unavailableModelHint('/srv/models/sd does not exist', '/srv/models/sd'),
    /expected at \/srv\/models\/sd; set models\.list/,
  );
});
