// A FLUX.1 model configured as ComfyUI keeps it — a bare transformer plus `components` files —
// is described by the server from those files' headers before its first load (family, sampler,
// grid), where the same transformer alone is not a model it can describe.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pictor } from '../../src/cli/compose.ts';
import { splitTinyFluxDev } from '../helpers/component-files.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

describe('a model of separate component files through the server', () => {
  let pictor: Pictor;
  let base: string;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pictor-components-e2e-'));
    const flux = await splitTinyFluxDev(dir);
    pictor = await startPictor(
      testConfig({
        PICTOR_WORKERS__ENGINE: 'onnx',
        PICTOR_WORKERS__INTRA_OP_THREADS: '1',
        PICTOR_MODELS__DEFAULT: 'flux-split',
        PICTOR_MODELS__LIST: JSON.stringify([
          { name: 'flux-split', path: flux.transformer, components: flux.components },
          { name: 'flux-alone', path: flux.transformer },
        ]),
      }),
    );
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await pictor.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const model = async (
    name: string,
  ): Promise<{ family: string; schedulers: string[]; defaults: Record<string, number> }> =>
    (await (await fetch(`${base}/v1/models/${name}`)).json()) as {
      family: string;
      schedulers: string[];
      defaults: Record<string, number>;
    };

  test('with its components it is FLUX.1-dev from the start: flow_euler, dev defaults', async () => {
    const split = await model('flux-split');
    assert.equal(split.family, 'flux');
    assert.deepEqual(split.schedulers, ['flow_euler']);
    assert.equal(split.defaults['steps'], 28);
  });

  test('the transformer alone is not described as FLUX', async () => {
    const alone = await model('flux-alone');
    assert.notEqual(alone.family, 'flux');
  });
});
