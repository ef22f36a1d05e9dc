// AUTOMATIC1111's unload-checkpoint / reload-checkpoint on Pictor's workers: admin keys only,
// answered once done, the state visible in GET /v1/models. ONNX engine, real HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startDialectServer, type DialectServer } from './dialect-server.ts';

describe('AUTOMATIC1111 unload-checkpoint and reload-checkpoint', () => {
  let server: DialectServer;
  let generateKey: string;

  before(async () => {
    server = await startDialectServer();
    generateKey = await server.createKey();
  });
  after(async () => {
    await server.stop();
  });

  const post = (route: string, key: string): Promise<Response> =>
    fetch(`${server.base}/sdapi/v1/${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
    });
  const loaded = async (name: string): Promise<boolean | undefined> => {
    const res = await fetch(`${server.base}/v1/models`, {
      headers: { authorization: `Bearer ${server.adminKey}` },
    });
    const { data } = (await res.json()) as { data: { name: string; loaded: boolean }[] };
    return data.find((m) => m.name === name)?.loaded;
  };

  test('a generate-only key is refused; an admin key loads and unloads its model', async () => {
    for (const route of ['reload-checkpoint', 'unload-checkpoint']) {
      assert.equal((await post(route, generateKey)).status, 403);
    }
    const reloaded = await post('reload-checkpoint', server.adminKey);
    assert.equal(reloaded.status, 200, await reloaded.clone().text());
    assert.equal(await reloaded.text(), 'null');
    assert.equal(await loaded('sd15'), true);
    const unloaded = await post('unload-checkpoint', server.adminKey);
    assert.equal(unloaded.status, 200);
    assert.equal(await loaded('sd15'), false);
  });
});
