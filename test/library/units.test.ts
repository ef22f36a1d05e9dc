import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ProblemError } from '../../src/errors/index.ts';
import { chooseRepoFiles } from '../../src/library/choose-repo-files.ts';
import { missingComponents } from '../../src/library/missing-components.ts';
import { scanModelFolder } from '../../src/library/model-folder.ts';
import { parseModelRef } from '../../src/library/model-ref.ts';
import { ModelCache, type WorkerModel } from '../../src/workers/engines/model-cache.ts';

test('references: Hugging Face, CivitAI ids and links, URLs and local paths', () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'pictor-ref-'));
  mkdirSync(path.join(cwd, 'some/folder'), { recursive: true });
  assert.deepEqual(parseModelRef('hf:org/repo@v1/onnx'), {
    kind: 'huggingface',
    repo: 'org/repo',
    revision: 'v1',
    subpath: 'onnx',
  });
  assert.deepEqual(parseModelRef('stabilityai/sd-turbo', { cwd }), {
    kind: 'huggingface',
    repo: 'stabilityai/sd-turbo',
    revision: 'main',
    subpath: '',
  });
  assert.deepEqual(parseModelRef('some/folder', { cwd }), {
    kind: 'local',
    path: path.join(cwd, 'some/folder'),
  });
  assert.deepEqual(parseModelRef('https://huggingface.co/org/repo/tree/fp16/unet'), {
    kind: 'huggingface',
    repo: 'org/repo',
    revision: 'fp16',
    subpath: 'unet',
  });
  assert.deepEqual(parseModelRef('civitai:123@456'), {
    kind: 'civitai',
    modelId: 123,
    versionId: 456,
  });
  assert.deepEqual(parseModelRef('123', { revision: '9' }), {
    kind: 'civitai',
    modelId: 123,
    versionId: 9,
  });
  assert.deepEqual(
    parseModelRef('https://civitai.com/models/4384/dreamshaper?modelVersionId=128713'),
    {
      kind: 'civitai',
      modelId: 4384,
      versionId: 128713,
    },
  );
  assert.deepEqual(parseModelRef('https://civitai.com/api/download/models/128713'), {
    kind: 'civitai',
    modelId: undefined,
    versionId: 128713,
  });
  assert.deepEqual(parseModelRef('https://example.com/a.safetensors'), {
    kind: 'url',
    url: 'https://example.com/a.safetensors',
  });
  assert.throws(() => parseModelRef('civitai:abc'), ProblemError);
  assert.throws(() => parseModelRef('hf:not a repo'), /expected hf:org\/repo/);
  assert.throws(
    () => parseModelRef('hf:org/repo', { revision: '../../../etc' }),
    /'\.\.' is not allowed/,
  );
});

test('file choice: ONNX components (or the onnx/ subfolder), the best safetensors variant, never pickles', () => {
  const diffusers = [
    'model_index.json',
    'README.md',
    'v1-5-pruned.ckpt',
    'text_encoder/config.json',
    'text_encoder/model.safetensors',
    'text_encoder/model.fp16.safetensors',
    'text_encoder/pytorch_model.bin',
    'tokenizer/vocab.json',
    'tokenizer/merges.txt',
    'unet/config.json',
    'unet/diffusion_pytorch_model.safetensors',
    'unet/diffusion_pytorch_model.fp16.safetensors',
    'unet/diffusion_pytorch_model.bin',
    'vae/config.json',
    'vae/diffusion_pytorch_model.fp16.safetensors',
    'onnx/model_index.json',
  ];
  const cpu = chooseRepoFiles(diffusers, '', false).files;
  assert.ok(cpu.includes('unet/diffusion_pytorch_model.safetensors'));
  assert.ok(!cpu.includes('unet/diffusion_pytorch_model.fp16.safetensors'));
  assert.ok(cpu.includes('vae/diffusion_pytorch_model.fp16.safetensors'));
  assert.ok(!cpu.some((f) => /\.(bin|ckpt|md)$/.test(f)));
  const gpu = chooseRepoFiles(diffusers, '', true).files;
  assert.ok(gpu.includes('unet/diffusion_pytorch_model.fp16.safetensors'));
  assert.ok(!gpu.includes('unet/diffusion_pytorch_model.safetensors'));

  const onnxOnly = [
    'onnx/model_index.json',
    'onnx/unet/model.onnx',
    'onnx/unet/weights.pb',
    'onnx/unet/config.json',
    'README.md',
  ];
  assert.deepEqual(chooseRepoFiles(onnxOnly, '', false), {
    root: 'onnx',
    files: [
      'onnx/model_index.json',
      'onnx/unet/model.onnx',
      'onnx/unet/weights.pb',
      'onnx/unet/config.json',
    ],
  });
  // A hostile listing cannot place files outside the snapshot.
  assert.ok(
    !chooseRepoFiles([...onnxOnly, 'onnx/../../../evil.json'], '', false).files.some((f) =>
      f.includes('..'),
    ),
  );
  assert.deepEqual(chooseRepoFiles(['a.safetensors', 'README.md'], '', false).files, [
    'a.safetensors',
  ]);
  assert.throws(() => chooseRepoFiles(['a.safetensors', 'b.safetensors'], '', false), /name one/);
  assert.throws(() => chooseRepoFiles(['model.ckpt'], 'model.ckpt', false), /pickle/);
  assert.throws(
    () => chooseRepoFiles(['model_index.json', 'unet/diffusion_pytorch_model.bin'], '', false),
    /unet: no \.safetensors weights/,
  );
});

test('a snapshot missing a component of its model_index.json is incomplete; optional parts may be absent', () => {
  const index = {
    _class_name: 'StableDiffusionPipeline',
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    scheduler: ['diffusers', 'PNDMScheduler'],
    safety_checker: ['stable_diffusion', 'StableDiffusionSafetyChecker'],
    image_encoder: [null, null],
    requires_safety_checker: true,
  };
  const complete = [
    'sd/model_index.json',
    'sd/unet/config.json',
    'sd/unet/diffusion_pytorch_model.fp16.safetensors',
    'sd/vae/diffusion_pytorch_model.safetensors',
    'sd/text_encoder/model.safetensors',
    'sd/tokenizer/vocab.json',
    'sd/scheduler/scheduler_config.json',
  ];
  assert.deepEqual(missingComponents(index, 'sd', complete), []);
  // The UNet's config arrived, its weights did not; the tokenizer folder is missing altogether.
  const stopped = complete.filter(
    (f) => !f.endsWith('.fp16.safetensors') && !f.includes('tokenizer/'),
  );
  assert.deepEqual(missingComponents(index, 'sd', stopped), ['sd/unet', 'sd/tokenizer']);
});

test('a models folder: each .safetensors file and diffusers folder is a model, with its sidecar; the rest is skipped', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pictor-scan-'));
  writeFileSync(path.join(dir, 'one.safetensors'), Buffer.alloc(10));
  writeFileSync(
    path.join(dir, 'one.pictor.json'),
    JSON.stringify({ cost: 3, family: 'sdxl', keepAliveSeconds: 'x', quantization: '4bit' }),
  );
  writeFileSync(path.join(dir, 'three.safetensors'), Buffer.alloc(10));
  writeFileSync(path.join(dir, 'three.pictor.json'), JSON.stringify({ quantization: 'int3' }));
  writeFileSync(path.join(dir, 'two.safetensors.partial'), Buffer.alloc(10));
  writeFileSync(path.join(dir, 'notes.txt'), 'hi');
  mkdirSync(path.join(dir, 'folder/unet'), { recursive: true });
  writeFileSync(path.join(dir, 'folder/model_index.json'), '{}');
  writeFileSync(path.join(dir, 'folder/unet/model.onnx'), Buffer.alloc(5));
  mkdirSync(path.join(dir, 'empty-folder'));
  symlinkSync(path.resolve(import.meta.dirname, '../../models/tiny'), path.join(dir, 'linked'));
  const models = await scanModelFolder(dir);
  assert.deepEqual(
    models.map((m) => [m.name, m.format, m.cost, m.family, m.keepAliveSeconds, m.quantization]),
    [
      ['folder', 'onnx', undefined, undefined, undefined, undefined],
      ['linked', 'onnx', undefined, undefined, undefined, undefined],
      // Scratchy's `4bit` is int4; a misspelt setting is ignored like any wrongly typed field.
      ['one', 'safetensors', 3, 'sdxl', undefined, 'int4'],
      ['three', 'safetensors', undefined, undefined, undefined, undefined],
    ],
  );
  assert.ok((models[1]?.sizeBytes ?? 0) > 8_000_000);
});

test("a sidecar's tokenizers: each encoder's folder, relative ones from the models folder; others ignored", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pictor-scan-tokenizers-'));
  writeFileSync(path.join(dir, 'flux.safetensors'), Buffer.alloc(10));
  writeFileSync(
    path.join(dir, 'flux.pictor.json'),
    JSON.stringify({ tokenizers: { t5: 'tokenizers/t5', qwen3: 3, clip: '/x' } }),
  );
  writeFileSync(path.join(dir, 'other.safetensors'), Buffer.alloc(10));
  writeFileSync(path.join(dir, 'other.pictor.json'), JSON.stringify({ tokenizers: 't5' }));
  const models = await scanModelFolder(dir);
  assert.deepEqual(
    models.map((m) => [m.name, m.tokenizers]),
    [
      ['flux', { t5: path.join(dir, 'tokenizers/t5') }],
      ['other', undefined],
    ],
  );
});

test('model cache: loads on use, unloads the least recently used idle model for room, never one in use', async () => {
  const events: string[] = [];
  const cache = new ModelCache<string>({
    budgetBytes: 100,
    load: (m) => {
      events.push(`load ${m.name}`);
      return m.path === 'bad' ? Promise.reject(new Error('bad file')) : Promise.resolve(m.name);
    },
    unload: (name) => {
      events.push(`unload ${name}`);
      return Promise.resolve();
    },
    onChange: () => undefined,
  });
  const model = (name: string, sizeBytes: number, keepAliveSeconds = -1): WorkerModel => ({
    name,
    path: name,
    sizeBytes,
    family: undefined,
    keepAliveSeconds,
  });
  await cache.acquire(model('a', 40));
  cache.release('a');
  await cache.acquire(model('b', 40));
  cache.release('b');
  await cache.acquire(model('a', 40)); // used again: b is now the oldest
  cache.release('a');
  await cache.acquire(model('c', 40));
  assert.deepEqual(events, ['load a', 'load b', 'unload b', 'load c']);
  // c is in use: removing it waits for its release.
  await cache.remove('c');
  assert.ok(cache.isLoaded('c'));
  cache.release('c');
  assert.ok(!cache.isLoaded('c'));
  await assert.rejects(cache.acquire(model('huge', 101)), /more than workers\.memoryBudgetGb/);
  await assert.rejects(cache.acquire({ ...model('broken', 10), path: 'bad' }), /bad file/);
  assert.ok(!cache.isLoaded('broken'));
  // keepAlive 0: unloaded as soon as its batch is done.
  await cache.acquire(model('once', 10, 0));
  cache.release('once');
  assert.ok(!cache.isLoaded('once'));
});
