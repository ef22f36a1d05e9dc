import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { singleFileComponents } from '../../src/engine/checkpoint/checkpoint-components.ts';
import type { CheckpointLayout } from '../../src/engine/checkpoint/checkpoint-layout.ts';
import type { CheckpointSource } from '../../src/engine/checkpoint/checkpoint-source.ts';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { loadCheckpointPipeline } from '../../src/engine/pipeline/load-checkpoint.ts';
import { loadPipeline } from '../../src/engine/pipeline/load-pipeline.ts';
import { BUNDLED_CLIP_TOKENIZER_DIR } from '../../src/engine/text/bundled-tokenizers.ts';
import type { ModelOverrides } from '../../src/engine/types.ts';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';
import { writeSafetensors, type TensorSpec } from '../helpers/safetensors-files.ts';

// The `clipSkip` and `vae` overrides of issue #10 through the checkpoint pipeline, on the tiny
// SD 1.x checkpoint (its VAE copied into a standalone file).
const FILE = path.join(CHECKPOINTS, 'tiny-sd1.safetensors');
let dir: string;
let tokenizerDir: string;
let sameVae: string;
let otherVae: string;

const LAYOUT: CheckpointLayout = {
  family: 'sd1',
  predictionType: 'epsilon',
  unetInChannels: 4,
  textEncoders: ['clip-l'],
  hasVae: true,
};

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-text-vae-'));
  tokenizerDir = path.join(dir, 'tokenizer');
  const merges = (await readFile(path.join(BUNDLED_CLIP_TOKENIZER_DIR, 'merges.txt'), 'utf8'))
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'));
  await mkdir(tokenizerDir);
  await writeFile(path.join(tokenizerDir, 'merges.txt'), merges.slice(0, 510).join('\n') + '\n');
  // The checkpoint's own VAE as a standalone file in LDM names under `first_stage_model.`, and
  // a copy whose decoder output bias is shifted.
  const { index } = await readSafetensors(FILE);
  const bytes = await readFile(FILE);
  const vae: TensorSpec[] = [...index]
    .filter(([name]) => name.startsWith('first_stage_model.'))
    .map(([name, ref]) => ({
      name,
      dtype: ref.dtype,
      shape: ref.shape,
      data: Uint8Array.from(bytes.subarray(ref.offset, ref.offset + ref.length)),
    }));
  sameVae = path.join(dir, 'same-vae.safetensors');
  otherVae = path.join(dir, 'other-vae.safetensors');
  await writeSafetensors(sameVae, vae);
  await writeSafetensors(
    otherVae,
    vae.map((t) =>
      t.name === 'first_stage_model.decoder.conv_out.bias'
        ? { ...t, data: new Uint8Array(t.data?.length ?? 0).fill(0x38) }
        : t,
    ),
  );
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function source(layout: CheckpointLayout = LAYOUT): Promise<CheckpointSource> {
  const read = await readSafetensors(FILE);
  return {
    layout,
    components: singleFileComponents(read.index, layout),
    files: new Map([[read.file, read.identity]]),
  };
}

async function image(overrides: ModelOverrides): Promise<Uint8Array> {
  const pipeline = await loadCheckpointPipeline(FILE, await source(), {
    intraOpThreads: 1,
    overrides,
    checkpoint: { tokenizerDir, textHeadDims: [8] },
  });
  try {
    const result = await pipeline.generate({
      prompt: 'a red circle',
      seed: 42,
      steps: 2,
      width: 64,
      height: 64,
    });
    const first = result.images[0];
    assert.ok(first);
    return first.data;
  } finally {
    await pipeline.dispose();
  }
}

test('clipSkip: 1 is the default, 2 conditions on the penultimate layer; out of range is refused', async () => {
  const plain = await image({});
  assert.deepEqual(await image({ clipSkip: 1 }), plain);
  assert.notDeepEqual(await image({ clipSkip: 2 }), plain);
  await assert.rejects(image({ clipSkip: 9 }), /clip skip 9/);
});

test("vae: a standalone VAE file replaces the checkpoint's own", async () => {
  const plain = await image({});
  assert.deepEqual(await image({ vae: sameVae }), plain, 'the same VAE bytes, the same image');
  assert.notDeepEqual(await image({ vae: otherVae }), plain, 'another VAE, another image');
  await assert.rejects(image({ vae: FILE.replace('tiny-sd1', 'tiny-none') }), (error: unknown) => {
    assert.ok(error instanceof EngineError);
    return true;
  });
});

test('clipSkip on SDXL and either override on an ONNX folder are refused naming the setting', async () => {
  const xl = path.join(CHECKPOINTS, 'tiny-sdxl.safetensors');
  const read = await readSafetensors(xl);
  const layout: CheckpointLayout = {
    ...LAYOUT,
    family: 'sdxl',
    textEncoders: ['clip-l', 'openclip-bigg'],
  };
  await assert.rejects(
    loadCheckpointPipeline(
      xl,
      {
        layout,
        components: singleFileComponents(read.index, layout),
        files: new Map([[read.file, read.identity]]),
      },
      { overrides: { clipSkip: 2 } },
    ),
    /clipSkip override: .* is sdxl, which conditions on fixed layers/,
  );
  for (const overrides of [{ clipSkip: 2 }, { vae: sameVae }]) {
    await assert.rejects(
      loadPipeline(path.resolve(import.meta.dirname, '../../models/tiny'), { overrides }),
      /override applies to \.safetensors checkpoints/,
    );
  }
});
