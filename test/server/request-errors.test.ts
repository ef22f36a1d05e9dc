// What a newcomer's first wrong request gets back: the content type to send, the field that is
// unknown and the ones accepted.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Pictor } from '../../src/cli/compose.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

describe('errors that say what to send instead', () => {
  let pictor: Pictor;
  before(async () => {
    pictor = await startPictor(testConfig());
  });
  after(() => pictor.stop());

  const post = (contentType: string, payload: string) =>
    pictor.app.inject({
      method: 'POST',
      url: '/v1/generate',
      headers: { 'content-type': contentType },
      payload,
    });

  test('`curl -d` (form-encoded) is a 415 naming application/json', async () => {
    const res = await post('application/x-www-form-urlencoded', '{"prompt": "x"}');
    assert.equal(res.statusCode, 415);
    assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
    const detail = res.json<{ detail: string }>().detail;
    assert.match(detail, /'application\/x-www-form-urlencoded' is not accepted/);
    assert.match(detail, /Content-Type: application\/json/);
  });

  test('a JSON string sent as text/plain (fetch without a content type) is a 415 naming JSON', async () => {
    const res = await post('text/plain;charset=UTF-8', '{"prompt": "x"}');
    assert.equal(res.statusCode, 415);
    const detail = res.json<{ detail: string }>().detail;
    assert.match(detail, /'text\/plain;charset=UTF-8' is not accepted/);
    assert.match(detail, /Content-Type: application\/json/);
  });

  test('a value outside a list names the allowed ones', async () => {
    const res = await post('application/json', '{"prompt": "x", "output_format": "PNG"}');
    assert.equal(res.statusCode, 422);
    assert.equal(
      res.json<{ detail: string }>().detail,
      'output_format: must be one of "png", "jpeg", "webp"',
    );
  });

  test('image bytes sent to /v1/generate are a 415, not a 422; /v1/uploads still takes them', async () => {
    const res = await post('image/png', 'not json');
    assert.equal(res.statusCode, 415);
    assert.match(res.json<{ detail: string }>().detail, /'image\/png' is not accepted/);
    const upload = await pictor.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: { 'content-type': 'image/png' },
      payload: 'not a png',
    });
    assert.equal(upload.json<{ code: string }>().code, 'INVALID_IMAGE');
  });

  test('an unknown field is named, with the accepted ones', async () => {
    const res = await post('application/json', '{"prompt": "x", "size": "64x64"}');
    assert.equal(res.statusCode, 422);
    const body = res.json<{ detail: string; field: string }>();
    assert.equal(body.field, 'size');
    assert.match(
      body.detail,
      /^size: unknown field; accepted fields: prompt, negative_prompt, .*width, height/,
    );
    assert.doesNotMatch(body.detail, /must NOT have additional properties/);
  });
});
