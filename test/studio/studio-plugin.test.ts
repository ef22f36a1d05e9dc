// `GET /` and the studio's assets, through the real app (fake engine): browsers get the page,
// API clients the model list; everything the page loads needs no key.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Pictor } from '../../src/cli/compose.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('studio plugin', () => {
  let pictor: Pictor;
  before(async () => {
    pictor = await startPictor(
      testConfig({
        PICTOR_AUTH__ENABLED: 'true',
        PICTOR_AUTH__SIGNUP: 'true',
        PICTOR_ADMIN_KEY: 'sk_test_admin_0123456789abcdefghijklmnop',
      }),
    );
  });
  after(() => pictor.stop());

  test('a browser gets the studio page, without a key, with its settings written in', async () => {
    const res = await pictor.app.inject({ url: '/', headers: { accept: BROWSER_ACCEPT } });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] ?? '', /^text\/html/);
    assert.equal(res.headers['vary'], 'accept');
    assert.match(res.body, /<script type="module" src="\/studio\/studio.js"><\/script>/);
    assert.match(
      res.body,
      /<script id="studio-settings" type="application\/json">\{"signup":true\}<\/script>/,
    );
  });

  test('an API client gets the model list at / (as the SDXL FastAPI server lists it)', async () => {
    for (const accept of ['application/json', '*/*', undefined]) {
      const res = await pictor.app.inject({ url: '/', headers: accept ? { accept } : {} });
      assert.equal(res.statusCode, 200, `accept ${accept}`);
      const body = res.json<{ available_models: string[]; default_model: string }>();
      assert.deepEqual(body.available_models, ['tiny']);
      assert.equal(body.default_model, 'tiny');
    }
  });

  test('the bundle, styles and icon are served without a key; unknown assets are 404', async () => {
    for (const [asset, type] of [
      ['studio.js', /javascript/],
      ['studio.css', /text\/css/],
      ['icon.svg', /image\/svg\+xml/],
    ] as const) {
      const res = await pictor.app.inject({ url: `/studio/${asset}` });
      assert.equal(res.statusCode, 200, asset);
      assert.match(res.headers['content-type'] ?? '', type);
    }
    const missing = await pictor.app.inject({ url: '/studio/nothing.js' });
    assert.equal(missing.statusCode, 404);
  });

  test('the studio does not open the API: /v1 still needs a key', async () => {
    const res = await pictor.app.inject({ url: '/v1/models' });
    assert.equal(res.statusCode, 401);
  });
});
