// Each dialect can be switched off in config: its routes are then not there at all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPictor, testConfig } from '../helpers/pictor.ts';

test("dialects.* off: the seed servers' routes answer 404; on (the default) they exist", async () => {
  const off = await startPictor(
    testConfig({
      PICTOR_DIALECTS__OPENAI: 'false',
      PICTOR_DIALECTS__A1111: 'false',
      PICTOR_DIALECTS__MFLUX: 'false',
      PICTOR_DIALECTS__SDXL_FASTAPI: 'false',
      PICTOR_DIALECTS__IRGOLIC: 'false',
    }),
  );
  const on = await startPictor(testConfig());
  try {
    const routes = [
      ['POST', '/v1/images/generations'],
      ['POST', '/sdapi/v1/txt2img'],
      ['POST', '/api/generate'],
      ['POST', '/generate/tiny'],
      ['POST', '/task'],
      ['GET', '/txt2img?prompt=x'],
      ['POST', '/token/all'],
    ] as const;
    for (const [method, url] of routes) {
      const absent = await off.app.inject({ method, url, payload: {} });
      assert.equal(absent.statusCode, 404, `${method} ${url} when off`);
      const present = await on.app.inject({ method, url, payload: {} });
      assert.notEqual(present.statusCode, 404, `${method} ${url} when on`);
    }
  } finally {
    await off.stop();
    await on.stop();
  }
});
