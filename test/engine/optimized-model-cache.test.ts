// The cold-start cache: ONNX Runtime's optimized form of each compiled checkpoint component,
// saved under the cache dir on the first load and used by the next, keyed by the graph, the
// checkpoint file's identity, ORT and the CPU; damaged or stale entries are never used.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  copyFile,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadPipeline } from '../../src/engine/index.ts';
import { BUNDLED_CLIP_TOKENIZER_DIR } from '../../src/engine/text/bundled-tokenizers.ts';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';

// The SD 1.x parity fixture: CLIP 32 wide in 8-wide heads over a 1024-token vocabulary (the first
// 510 CLIP merges give it, as in checkpoint-run.test.ts).
const request = { prompt: 'a red circle on a blue background', seed: 3, steps: 3 };
let dir: string;
let file: string;
let tokenizerDir: string;
let cacheDir: string;
let uncached: Buffer;

async function imageWith(cache: string | undefined): Promise<Buffer> {
  const pipeline = await loadPipeline(file, {
    intraOpThreads: 1,
    overrides: { width: 64, height: 64 },
    checkpoint: { tokenizerDir, textHeadDims: [8] },
    ...(cache ? { cacheDir: cache } : {}),
  });
  try {
    return (await pipeline.generate(request)).images[0]!.data;
  } finally {
    await pipeline.dispose();
  }
}

/** Each entry with its manifest's modification time, so a rebuilt entry (a new manifest) shows. */
async function entries(): Promise<Map<string, number>> {
  const root = path.join(cacheDir, 'optimized');
  const names = await readdir(root);
  return new Map(
    await Promise.all(
      names.map(
        async (name) =>
          [name, (await stat(path.join(root, name, 'manifest.json'))).mtimeMs] as const,
      ),
    ),
  );
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-optimized-cache-'));
  file = path.join(dir, 'model.safetensors');
  cacheDir = path.join(dir, 'cache');
  tokenizerDir = path.join(dir, 'tokenizer');
  await copyFile(path.join(CHECKPOINTS, 'tiny-sd1.safetensors'), file);
  const merges = (await readFile(path.join(BUNDLED_CLIP_TOKENIZER_DIR, 'merges.txt'), 'utf8'))
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'));
  await mkdir(tokenizerDir);
  await writeFile(path.join(tokenizerDir, 'merges.txt'), merges.slice(0, 510).join('\n') + '\n');
  uncached = await imageWith(undefined);
});
after(() => rm(dir, { recursive: true, force: true }));

test('the first load saves one whole entry per component; the next uses them, same image', async () => {
  assert.ok((await imageWith(cacheDir)).equals(uncached), 'optimized while saving: same image');
  const first = await entries();
  // unet, text encoder, VAE decoder: txt2img never creates the VAE encoder's session.
  assert.equal(first.size, 3, [...first.keys()].join());
  for (const name of first.keys()) {
    assert.doesNotMatch(name, /partial/);
    const manifest = JSON.parse(
      await readFile(path.join(cacheDir, 'optimized', name, 'manifest.json'), 'utf8'),
    ) as { key: string; sources: string[]; files: Record<string, { sha256: string }> };
    assert.equal(manifest.key, name);
    assert.deepEqual(manifest.sources, [file]);
    assert.match(manifest.files['model.onnx']?.sha256 ?? '', /^[0-9a-f]{64}$/);
    // The float32 weights folded for the saving start (prefold-weights.ts) are not kept:
    // ORT's data file holds them.
    const held = await readdir(path.join(cacheDir, 'optimized', name));
    assert.deepEqual(
      held.filter((entry) => !['manifest.json', 'model.onnx', 'model.data'].includes(entry)),
      [],
    );
  }
  assert.ok((await imageWith(cacheDir)).equals(uncached), 'from the cache: same image');
  assert.deepEqual(await entries(), first, 'every entry used as it was, none rebuilt');
});

test('a damaged entry is never used: it is rebuilt, and the image stays right', async () => {
  const before = await entries();
  const root = path.join(cacheDir, 'optimized');
  // Flip one byte in the middle of the largest cached file (same size, other contents).
  let largest = { file: '', size: 0 };
  for (const name of before.keys()) {
    for (const part of ['model.onnx', 'model.data']) {
      const candidate = path.join(root, name, part);
      const size = await stat(candidate).then(
        (s) => s.size,
        () => 0,
      );
      if (size > largest.size) largest = { file: candidate, size };
    }
  }
  const handle = await open(largest.file, 'r+');
  const byte = Buffer.alloc(1);
  await handle.read(byte, 0, 1, Math.floor(largest.size / 2));
  await handle.write(Buffer.from([byte[0]! ^ 0xff]), 0, 1, Math.floor(largest.size / 2));
  await handle.close();
  const damaged = path.basename(path.dirname(largest.file));

  assert.ok((await imageWith(cacheDir)).equals(uncached));
  const after = await entries();
  assert.equal(after.size, 3);
  assert.notEqual(after.get(damaged), before.get(damaged), 'the damaged entry was rebuilt');
  const manifest = JSON.parse(
    await readFile(path.join(path.dirname(largest.file), 'manifest.json'), 'utf8'),
  ) as { files: Record<string, { sha256: string }> };
  assert.equal(
    await sha256(largest.file),
    manifest.files[path.basename(largest.file)]?.sha256,
    'whole again',
  );
  for (const [name, inode] of before) {
    if (name !== damaged) assert.equal(after.get(name), inode, `${name} kept`);
  }
});

test('a checkpoint file that changed gets new entries and its old ones are retired', async () => {
  const before = await entries();
  const later = new Date(Date.now() + 60_000);
  await utimes(file, later, later);
  assert.ok((await imageWith(cacheDir)).equals(uncached));
  const after = await entries();
  assert.equal(after.size, 3, 'the old entries were removed');
  for (const name of after.keys()) assert.ok(!before.has(name), `${name} is a new key`);
});

test('cacheOptimizedModels: false keeps nothing under the cache dir but quantized weights', async () => {
  const off = path.join(dir, 'cache-off');
  const pipeline = await loadPipeline(file, {
    intraOpThreads: 1,
    overrides: { width: 64, height: 64 },
    checkpoint: { tokenizerDir, textHeadDims: [8] },
    cacheDir: off,
    cacheOptimizedModels: false,
  });
  try {
    assert.deepEqual((await pipeline.generate(request)).images[0]!.data, uncached);
  } finally {
    await pipeline.dispose();
  }
  const kept = await readdir(off).catch((): string[] => []);
  assert.ok(!kept.includes('optimized'), `nothing optimized kept: ${kept.join(', ')}`);
});
