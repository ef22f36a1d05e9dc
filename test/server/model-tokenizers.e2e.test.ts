// models.list[].tokenizers (and a library model's sidecar `tokenizers`) through the real server
// (ONNX engine, HTTP): the T5 tokenizer folder a model's setting names is the one its prompts are
// tokenized with — a copy of the model's own gives its images, a folder whose vocabulary is
// ordered otherwise gives other ones — and a folder without a tokenizer.json makes the model
// unavailable, the reason naming the setting.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { Pictor } from '../../src/cli/compose.ts';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const FLUX = path.join(CHECKPOINTS, 'tiny-flux-schnell');
const OWN_T5 = path.join(FLUX, 'tokenizer_2');

describe('a model’s tokenizers setting through the server', () => {
  let pictor: Pictor;
  let base: string;
  let dir: string;
  let missing: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pictor-tokenizers-e2e-'));
    const same = path.join(dir, 'same');
    await cp(OWN_T5, same, { recursive: true });
    // The same pieces and scores (so the same segmentation), other ids: the vocabulary after
    // the special tokens in reverse order.
    const reordered = path.join(dir, 'reordered');
    await mkdir(reordered);
    const json = JSON.parse(await readFile(path.join(OWN_T5, 'tokenizer.json'), 'utf8')) as {
      model: { vocab: [string, number][]; unk_id: number };
    };
    const specials = json.model.vocab.slice(0, 3);
    json.model.vocab = [...specials, ...json.model.vocab.slice(3).reverse()];
    await writeFile(path.join(reordered, 'tokenizer.json'), JSON.stringify(json));
    missing = path.join(dir, 'no-such-folder');
    // A library model (the data dir's models folder) names its tokenizer in its sidecar.
    const dataDir = path.join(dir, 'data');
    await mkdir(path.join(dataDir, 'models'), { recursive: true });
    await symlink(FLUX, path.join(dataDir, 'models', 'flux-library'));
    await writeFile(
      path.join(dataDir, 'models', 'flux-library.pictor.json'),
      JSON.stringify({ tokenizers: { t5: reordered } }),
    );
    pictor = await startPictor(
      testConfig(
        {
          PICTOR_WORKERS__ENGINE: 'onnx',
          PICTOR_WORKERS__INTRA_OP_THREADS: '1',
          PICTOR_MODELS__DEFAULT: 'flux',
          PICTOR_MODELS__LIST: JSON.stringify([
            { name: 'flux', path: FLUX },
            { name: 'flux-same', path: FLUX, tokenizers: { t5: same } },
            { name: 'flux-reordered', path: FLUX, tokenizers: { t5: reordered } },
            { name: 'flux-missing', path: FLUX, tokenizers: { t5: missing } },
            { name: 'tiny-onnx', path: 'models/tiny', tokenizers: { t5: same } },
          ]),
        },
        dataDir,
      ),
    );
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await pictor.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function generate(model: string): Promise<Buffer> {
    const response = await fetch(`${base}/v1/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a red circle', model, width: 32, height: 32, seed: 5 }),
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    const { image } = JSON.parse(text) as { image: string };
    return await sharp(Buffer.from(image, 'base64')).raw().toBuffer();
  }

  test('the named folder is the one used', async () => {
    const own = await generate('flux');
    assert.ok((await generate('flux-same')).equals(own), 'a copy of its own tokenizer: same image');
    const reordered = await generate('flux-reordered');
    assert.ok(!reordered.equals(own), 'another vocabulary order: another');
    assert.ok(
      (await generate('flux-library')).equals(reordered),
      "named in a library model's sidecar",
    );
  });

  test('a folder without a tokenizer.json: the model is unavailable, naming the setting', async () => {
    const { data } = (await (await fetch(`${base}/v1/models`)).json()) as {
      data: { name: string; available: boolean; error: string | null }[];
    };
    const model = data.find((entry) => entry.name === 'flux-missing');
    assert.equal(model?.available, false);
    assert.match(model.error ?? '', /^tokenizers\.t5: no T5 tokenizer in /);
    assert.ok(model.error?.includes(missing), model.error ?? '');
    const response = await fetch(`${base}/v1/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        prompt: 'a red circle',
        model: 'flux-missing',
        width: 32,
        height: 32,
      }),
    });
    assert.equal(response.status, 503);
    assert.match(await response.text(), /tokenizers\.t5: no T5 tokenizer in/);
  });

  test('on an ONNX folder, whose tokenizers are its own, the setting is refused the same way', async () => {
    const { data } = (await (await fetch(`${base}/v1/models`)).json()) as {
      data: { name: string; available: boolean; error: string | null }[];
    };
    const model = data.find((entry) => entry.name === 'tiny-onnx');
    assert.equal(model?.available, false);
    assert.match(
      model.error ?? '',
      /^tokenizers: t5 name T5\/Qwen3 tokenizer folders for \.safetensors models/,
    );
  });
});
