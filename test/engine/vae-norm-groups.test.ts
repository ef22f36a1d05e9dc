import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { ldmVaeIndex } from '../../src/engine/checkpoint/diffusers-vae-names.ts';
import { buildVaeDecoder, buildVaeEncoder } from '../../src/engine/checkpoint/graphs/vae.ts';
import { readDiffusersFolder } from '../../src/engine/checkpoint/read-diffusers-folder.ts';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import type { TensorIndex } from '../../src/engine/checkpoint/tensor-ref.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { loadPipeline } from '../../src/engine/pipeline/load-pipeline.ts';
import {
  assertClose,
  CHECKPOINTS,
  floatTensor,
  readReferences,
  reference,
  sessionFor,
  type ReferenceTensor,
} from '../helpers/checkpoint-graphs.ts';

// A random 32-channel, 16-latent-channel VAE whose GroupNorms have 8 groups (diffusers'
// `norm_num_groups: 8`), made by BFL's AutoEncoder with its references
// (scripts/fixtures/make_vae_groups_fixture.py). With 32 groups every norm would be per channel.
const VAE_DIR = path.join(CHECKPOINTS, 'tiny-vae-groups8', 'vae');
const SCHNELL = path.join(CHECKPOINTS, 'tiny-flux-schnell');
let references: Map<string, ReferenceTensor>;
let vae: TensorIndex;
let scratch: string;
const ref = (name: string): ReferenceTensor => reference(references, name);

before(async () => {
  references = await readReferences(
    path.join(CHECKPOINTS, 'tiny-vae-groups8.reference.safetensors'),
  );
  vae = ldmVaeIndex(
    (await readSafetensors(path.join(VAE_DIR, 'diffusion_pytorch_model.safetensors'))).index,
  );
  scratch = await mkdtemp(path.join(tmpdir(), 'pictor-vae-groups-'));
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function decode(normGroups?: number): Promise<ReturnType<typeof floatTensor> | undefined> {
  const built = buildVaeDecoder(vae, normGroups === undefined ? {} : { normGroups });
  const outputs = await (
    await sessionFor(built.bytes)
  ).run({
    latent_sample: floatTensor(ref('vae.latent')),
  });
  return outputs['sample'];
}

/** The FLUX.1-schnell fixture folder with the 8-group VAE in place of its own. */
async function folderWithGroupsVae(
  name: string,
  config?: Record<string, unknown>,
): Promise<string> {
  const dir = path.join(scratch, name);
  await cp(SCHNELL, dir, { recursive: true });
  await rm(path.join(dir, 'vae'), { recursive: true });
  await cp(VAE_DIR, path.join(dir, 'vae'), { recursive: true });
  if (config) {
    const file = path.join(dir, 'vae', 'config.json');
    const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...json, ...config }));
  }
  return dir;
}

test('an 8-group VAE (norm_num_groups 8): decoder and encoder mean match BFL AutoEncoder', async () => {
  const decoded = assertClose(await decode(8), ref('vae.decoded'), 'decoded');
  const encoder = await sessionFor(buildVaeEncoder(vae, { normGroups: 8 }).bytes);
  const encoded = await encoder.run({ sample: floatTensor(ref('vae.image')) });
  const mean = assertClose(encoded['latent_sample'], ref('vae.mean'), 'mean');
  console.log(
    `8-group VAE relative error: decoded ${decoded.toExponential(2)}, mean ${mean.toExponential(2)}`,
  );
});

test('the reference tells the group count: LDM’s default 32 does not reproduce it', async () => {
  const output = await decode();
  assert.throws(() => assertClose(output, ref('vae.decoded'), '32 groups'), /relative error/);
});

test('a width the group count does not divide is refused, naming both', () => {
  assert.throws(
    () => buildVaeDecoder(vae, { normGroups: 5 }),
    (error: unknown) =>
      error instanceof EngineError &&
      error.code === 'MODEL_INVALID' &&
      /32 channels do not split into 5 GroupNorm groups/.test(error.message),
  );
});

test('a diffusers folder’s vae/config.json norm_num_groups is read; absent, none is claimed', async () => {
  const withGroups = await readDiffusersFolder(await folderWithGroupsVae('groups'), {
    preferHalf: false,
  });
  assert.equal(withGroups.architecture?.vaeNormGroups, 8);
  const released = await readDiffusersFolder(SCHNELL, { preferHalf: false });
  assert.equal(released.architecture?.vaeNormGroups, undefined);
  for (const bad of [0, 2.5, '8']) {
    const dir = await folderWithGroupsVae(`bad-${String(bad)}`, { norm_num_groups: bad });
    await assert.rejects(readDiffusersFolder(dir, { preferHalf: false }), (error: unknown) => {
      assert.ok(error instanceof EngineError);
      assert.equal(error.code, 'MODEL_INVALID');
      assert.match(error.message, /norm_num_groups .* is not a positive integer/);
      return true;
    });
  }
});

test('the loaded pipeline builds its VAE with the folder’s group count', async () => {
  const dir = await folderWithGroupsVae('pipeline');
  const request = { prompt: 'a red circle', width: 32, height: 32, steps: 2, seed: 5 };
  const image = async (vaeNormGroups?: number): Promise<Buffer> => {
    const checkpoint = vaeNormGroups === undefined ? {} : { vaeNormGroups };
    const pipeline = await loadPipeline(dir, { intraOpThreads: 1, checkpoint });
    try {
      const result = await pipeline.generate(request);
      return await sharp(result.images[0]!.data).raw().toBuffer();
    } finally {
      await pipeline.dispose();
    }
  };
  const fromFolder = await image();
  // Told 8 explicitly, the same image; told 32 (LDM's default), another one.
  assert.ok(fromFolder.equals(await image(8)), 'the folder’s 8 groups');
  assert.ok(!fromFolder.equals(await image(32)), '32 groups draw differently');
});
