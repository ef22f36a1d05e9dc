import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { assertFileUnchanged } from '../../src/engine/checkpoint/file-identity.ts';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import {
  readTensorValues,
  standardDeviation,
} from '../../src/engine/checkpoint/read-tensor-values.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import {
  fileBytes,
  float32Bytes,
  headerFor,
  writeSafetensors,
} from '../helpers/safetensors-files.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-safetensors-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const twoTensors = [
  { name: 'a.weight', dtype: 'F32', shape: [2, 3], data: float32Bytes([1, 2, 3, 4, 5, 6]) },
  { name: 'b.bias', dtype: 'F16', shape: [3] },
] as const;

async function rejects(file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(readSafetensors(file), (error: unknown) => {
    assert.ok(error instanceof EngineError, String(error));
    assert.equal(error.code, 'MODEL_INVALID');
    assert.ok(error.message.includes(file), `names the file: ${error.message}`);
    assert.match(error.message, pattern);
    return true;
  });
}

test('a header is read into absolute byte ranges, metadata kept, weights untouched', async () => {
  const file = path.join(dir, 'good.safetensors');
  await writeSafetensors(file, twoTensors);
  const { index, identity } = await readSafetensors(file);
  const headerLength = Buffer.byteLength(JSON.stringify(headerFor(twoTensors)));
  assert.deepEqual(index.get('a.weight'), {
    dtype: 'F32',
    shape: [2, 3],
    file,
    offset: 8 + headerLength,
    length: 24,
  });
  assert.equal(index.get('b.bias')?.offset, 8 + headerLength + 24);
  assert.equal(identity.size, 8 + headerLength + 30);

  const withMetadata = path.join(dir, 'metadata.safetensors');
  const header = { __metadata__: { format: 'pt' }, ...headerFor(twoTensors) };
  await writeFile(withMetadata, fileBytes(JSON.stringify(header), new Uint8Array(30)));
  const read = await readSafetensors(withMetadata);
  assert.deepEqual(read.metadata, { format: 'pt' });
  assert.deepEqual([...read.index.keys()], ['a.weight', 'b.bias']);
});

test('truncated data is refused naming the tensor that runs past the end', async () => {
  const file = path.join(dir, 'truncated.safetensors');
  await writeFile(file, fileBytes(JSON.stringify(headerFor(twoTensors)), new Uint8Array(29)));
  await rejects(file, /truncated.*"b\.bias"/);
});

test('a truncated header and a file too short for one are refused', async () => {
  const short = path.join(dir, 'short.safetensors');
  await writeFile(short, Buffer.from([1, 2, 3]));
  await rejects(short, /too short/);
  const cut = path.join(dir, 'cut-header.safetensors');
  await writeFile(
    cut,
    fileBytes(JSON.stringify(headerFor(twoTensors)), new Uint8Array(0)).subarray(0, 40),
  );
  await rejects(cut, /truncated: the header needs/);
});

test('offsets that overlap or run past the end are refused', async () => {
  const overlap = path.join(dir, 'overlap.safetensors');
  const header = {
    x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
    y: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
  };
  await writeFile(overlap, fileBytes(JSON.stringify(header), new Uint8Array(16)));
  await rejects(overlap, /"x" and "y" overlap/);

  const past = path.join(dir, 'past.safetensors');
  const farHeader = { x: { dtype: 'F32', shape: [2], data_offsets: [1_000_000, 1_000_008] } };
  await writeFile(past, fileBytes(JSON.stringify(farHeader), new Uint8Array(16)));
  await rejects(past, /run past the end: tensor "x"/);
});

test('a byte range that disagrees with the shape is refused', async () => {
  const file = path.join(dir, 'wrong-size.safetensors');
  const header = { x: { dtype: 'F16', shape: [3, 3], data_offsets: [0, 16] } };
  await writeFile(file, fileBytes(JSON.stringify(header), new Uint8Array(16)));
  await rejects(file, /"x" spans 16 bytes but its shape \[3, 3\] of F16 needs 18/);
});

test('a header over 100 MB is refused before it is read', async () => {
  const file = path.join(dir, 'huge-header.safetensors');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(200n * 1024n * 1024n);
  await writeFile(file, Buffer.concat([length, Buffer.from('{}')]));
  await rejects(file, /over the 100 MB limit/);
});

test('duplicate tensor names are refused', async () => {
  const file = path.join(dir, 'duplicate.safetensors');
  const text =
    '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
    '"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
  await writeFile(file, fileBytes(text, new Uint8Array(8)));
  await rejects(file, /"x" appears twice/);
});

test('unknown dtypes, bad shapes and non-JSON headers are refused', async () => {
  const dtype = path.join(dir, 'dtype.safetensors');
  const header = { x: { dtype: 'F4', shape: [2], data_offsets: [0, 1] } };
  await writeFile(dtype, fileBytes(JSON.stringify(header), new Uint8Array(1)));
  await rejects(dtype, /"x" has an unknown dtype "F4"/);

  const shape = path.join(dir, 'shape.safetensors');
  const badShape = { x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } };
  await writeFile(shape, fileBytes(JSON.stringify(badShape), new Uint8Array(4)));
  await rejects(shape, /"x" has an invalid shape/);

  const json = path.join(dir, 'json.safetensors');
  await writeFile(json, fileBytes('{"x": ', new Uint8Array(0)));
  await rejects(json, /not valid JSON/);
});

test('a pickle is refused unopened, saying why and what to use instead', async () => {
  const file = path.join(dir, 'model.ckpt');
  await writeFile(file, 'not even read');
  await assert.rejects(readSafetensors(file), (error: unknown) => {
    assert.ok(error instanceof EngineError);
    assert.equal(error.code, 'MODEL_UNSUPPORTED');
    assert.match(error.message, /pickle.*arbitrary code.*\.safetensors/);
    return true;
  });
});

test('a file that changes after its header was read is detected by size and mtime', async () => {
  const file = path.join(dir, 'changing.safetensors');
  await writeSafetensors(file, twoTensors);
  const { identity } = await readSafetensors(file);
  await assertFileUnchanged(file, identity);

  await utimes(file, new Date(), new Date(identity.mtimeMs + 5000));
  await assert.rejects(assertFileUnchanged(file, identity), /changing\.safetensors changed since/);

  const grown = path.join(dir, 'grown.safetensors');
  await writeSafetensors(grown, twoTensors);
  const before = await readSafetensors(grown);
  await appendFile(grown, 'x');
  await utimes(grown, new Date(), new Date(before.identity.mtimeMs));
  await assert.rejects(assertFileUnchanged(grown, before.identity), /size \d+ → \d+/);

  await rm(grown);
  await assert.rejects(assertFileUnchanged(grown, before.identity), /is gone/);
});

test('small tensors read back as numbers from F32, F16 and BF16', async () => {
  const file = path.join(dir, 'values.safetensors');
  const half = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3800]).buffer); // 1, -2, 0.5
  const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc040]).buffer); // 1, -3
  await writeSafetensors(file, [
    { name: 'f32', dtype: 'F32', shape: [2], data: float32Bytes([0.25, -8]) },
    { name: 'f16', dtype: 'F16', shape: [3], data: half },
    { name: 'bf16', dtype: 'BF16', shape: [2], data: bf16 },
    { name: 'ids', dtype: 'I64', shape: [1] },
  ]);
  const { index } = await readSafetensors(file);
  const values = async (name: string) => [...(await readTensorValues(index.get(name)!))];
  assert.deepEqual(await values('f32'), [0.25, -8]);
  assert.deepEqual(await values('f16'), [1, -2, 0.5]);
  assert.deepEqual(await values('bf16'), [1, -3]);
  await assert.rejects(values('ids'), /found I64 values where floating-point values were expected/);
  assert.equal(standardDeviation(new Float64Array([1, 3])), 1);
});
