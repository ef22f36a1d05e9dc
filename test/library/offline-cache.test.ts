// A model the Hugging Face cache already holds (a Python tool's download, or an earlier pull) is
// served with no network call: a generation naming it pulls on request from the cache alone,
// with the hub unreachable, and completes. ONNX engine, real HTTP.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ModelLibrary } from '../../src/library/model-library.ts';
import { FakeHub, repoFromFolder } from '../helpers/fake-hub.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const TINY = path.resolve(import.meta.dirname, '../../models/tiny');

test('a model in the Hugging Face cache generates with the hub unreachable', async () => {
  const cache = path.join(mkdtempSync(path.join(tmpdir(), 'pictor-hf-')), 'hub');
  // Fill the shared cache the way any tool would, then take the hub away.
  const hub = new FakeHub();
  await hub.listen();
  hub.repos.set('org/cached', { sha: 'd'.repeat(40), files: repoFromFolder(TINY) });
  const filler = new ModelLibrary(testConfig({ HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache }));
  await filler.pull('hf:org/cached').done;
  await filler.close();
  await hub.close();

  const pictor = await startPictor(
    testConfig({
      PICTOR_WORKERS__ENGINE: 'onnx',
      PICTOR_WORKERS__INTRA_OP_THREADS: '1',
      PICTOR_MODELS__PULL_ON_REQUEST: 'true',
      // Nothing listens on port 9: any network call would fail the pull.
      HF_ENDPOINT: 'http://127.0.0.1:9',
      HF_HUB_CACHE: cache,
    }),
  );
  try {
    const base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`${base}/v1/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'org/cached', prompt: 'a red circle', steps: 2, seed: 3 }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.ok(pictor.library.get('cached'), 'linked into the library under its name');
  } finally {
    await pictor.stop();
  }
});
