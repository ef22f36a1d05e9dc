// Model aliases (`models.list[].aliases`, a sidecar's `aliases`): every dialect takes an alias
// where it takes a model name, and jobs record the model's own name. Real HTTP, real ONNX engine
// on the fixture models; the aliases name the non-default model, so a dialect that fell back to
// the default (OpenAI maps unknown names to it) would be caught.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/config/index.ts';
import { ModelLibrary } from '../../src/library/model-library.ts';
import { applySidecarSettings } from '../../src/library/sidecar-settings.ts';
import { readPngText, JSON_METADATA_KEY } from '../../src/engine/index.ts';
import { testConfig } from '../helpers/pictor.ts';
import { startDialectServer, type DialectServer } from './dialect-server.ts';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/models');
const ALIAS = 'runwayml/stable-diffusion-inpainting';

describe('model aliases through every dialect (ONNX engine, real HTTP)', () => {
  let server: DialectServer;
  let key: string;
  const post = (route: string, body: unknown): Promise<Response> =>
    fetch(`${server.base}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });

  before(async () => {
    server = await startDialectServer({
      PICTOR_MODELS__LIST: JSON.stringify([
        { name: 'sd15', path: path.join(fixtures, 'sd15') },
        { name: 'inpaint', path: path.join(fixtures, 'inpaint'), aliases: [ALIAS, 'inp'] },
      ]),
    });
    key = await server.createKey();
  });
  after(() => server.stop());

  test('GET /v1/models lists each model with its aliases; GET /v1/models/{alias} is the model', async () => {
    const res = await fetch(`${server.base}/v1/models`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const { data } = (await res.json()) as { data: { name: string; aliases: string[] }[] };
    assert.deepEqual(
      data.map((m) => [m.name, m.aliases]),
      [
        ['sd15', []],
        ['inpaint', [ALIAS, 'inp']],
      ],
    );
    const one = await fetch(`${server.base}/v1/models/inp`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(((await one.json()) as { name: string }).name, 'inpaint');
  });

  test('native /v1/jobs: an alias runs the model, and the job records its own name', async () => {
    const res = await post('/v1/jobs', {
      prompt: 'a cat',
      model: ALIAS,
      width: 64,
      height: 64,
      steps: 2,
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { job_id } = (await res.json()) as { job_id: string };
    const job = await fetch(`${server.base}/v1/jobs/${job_id}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(((await job.json()) as { model: string }).model, 'inpaint');
    const unknown = await post('/v1/jobs', { prompt: 'a cat', model: 'runwayml/nope', steps: 2 });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { code: string }).code, 'MODEL_NOT_FOUND');
  });

  test('OpenAI images/generations: an alias is that model, not the default', async () => {
    const res = await post('/v1/images/generations', {
      model: 'inp',
      prompt: 'a cat',
      size: '64x64',
      response_format: 'b64_json',
    });
    assert.equal(res.status, 200, await res.clone().text());
    const { data } = (await res.json()) as { data: { b64_json: string }[] };
    const png = Buffer.from(data[0]?.b64_json ?? '', 'base64');
    const meta = JSON.parse(readPngText(png)[JSON_METADATA_KEY] ?? '{}') as { model?: string };
    assert.equal(meta.model, 'inpaint');
  });

  test('AUTOMATIC1111 txt2img: an alias as the checkpoint override', async () => {
    const res = await post('/sdapi/v1/txt2img', {
      prompt: 'a cat',
      width: 64,
      height: 64,
      steps: 2,
      override_settings: { sd_model_checkpoint: ALIAS },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const info = JSON.parse(((await res.json()) as { info: string }).info) as {
      sd_model_name: string;
    };
    assert.equal(info.sd_model_name, 'inpaint');
  });
});

test('config: an alias used twice, or one that is another model name, is refused naming both', () => {
  const load = (list: unknown[]): unknown =>
    testConfig({ PICTOR_MODELS__LIST: JSON.stringify(list) });
  assert.throws(
    () =>
      load([
        { name: 'a', path: 'models/tiny', aliases: ['x'] },
        { name: 'b', path: 'models/tiny', aliases: ['x'] },
      ]),
    (e: unknown) =>
      e instanceof ConfigError &&
      /models\.list\[1\]\.aliases: 'x' is already an alias of models\.list\[0\]/.test(e.message),
  );
  assert.throws(
    () =>
      load([
        { name: 'a', path: 'models/tiny' },
        { name: 'b', path: 'models/tiny', aliases: ['a'] },
      ]),
    (e: unknown) =>
      e instanceof ConfigError &&
      /models\.list\[1\]\.aliases: 'a' is already models\.list\[0\]\.name/.test(e.message),
  );
  assert.throws(
    () => load([{ name: 'a', path: 'models/tiny', aliases: ['has space'] }]),
    (e: unknown) =>
      e instanceof ConfigError && /aliases: "has space" is not a model name/.test(e.message),
  );
});

test('library: a sidecar names aliases; a name beats an alias, a configured model beats a sidecar', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pictor-aliases-'));
  const config = testConfig(
    {
      PICTOR_MODELS__LIST: JSON.stringify([
        { name: 'tiny', path: 'models/tiny', aliases: ['shared', 'tiny-alias'] },
      ]),
    },
    dataDir,
  );
  const dir = config.models.dir;
  mkdirSync(dir, { recursive: true });
  for (const name of ['one', 'two']) writeFileSync(path.join(dir, `${name}.safetensors`), 'x');
  // `one` claims a configured alias, a library model's name and a fresh alias; `two` the same fresh one.
  writeFileSync(
    path.join(dir, 'one.pictor.json'),
    JSON.stringify({ aliases: ['shared', 'two', 'org/fresh', 'bad name'] }),
  );
  writeFileSync(
    path.join(dir, 'two.pictor.json'),
    JSON.stringify({ aliases: ['org/fresh', 'solo'] }),
  );
  const library = new ModelLibrary(config);
  await library.scan();
  assert.deepEqual(library.aliasesOf('tiny'), ['shared', 'tiny-alias']);
  assert.deepEqual(library.aliasesOf('one'), ['org/fresh']);
  assert.deepEqual(library.aliasesOf('two'), ['solo']);
  const set = applySidecarSettings({}, ['aliases=a, org/b'], dataDir);
  assert.deepEqual(set.aliases, ['a', 'org/b']);
  assert.throws(
    () => applySidecarSettings({}, ['aliases=a b'], dataDir),
    /aliases=a b: other names/,
  );
});
