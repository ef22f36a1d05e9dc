import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { adminCli } from '../../src/cli/admin-cli.ts';
import { FakeHub, repoFromFolder } from '../helpers/fake-hub.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const hub = new FakeHub();
before(async () => {
  await hub.listen();
  hub.repos.set('org/tiny', {
    sha: 'd'.repeat(40),
    files: repoFromFolder(path.join(ROOT, 'models/tiny')),
  });
  hub.civitai.set(7001, {
    id: 7001,
    modelId: 700,
    baseModel: 'SD 1.5',
    fileName: 'dreamy.safetensors',
    data: Buffer.alloc(2048, 9),
  });
});
after(async () => {
  await hub.close();
});

function cliFor(
  dataDir: string,
): (...argv: string[]) => Promise<{ code: number; out: string; err: string }> {
  const env = {
    PICTOR_CONFIG: path.join(ROOT, 'test/helpers/empty.yaml'),
    PICTOR_DATA_DIR: dataDir,
    HF_ENDPOINT: hub.url,
    HF_HUB_CACHE: path.join(dataDir, 'hf'),
    HF_TOKEN: 'hf_never_printed',
    PICTOR_SOURCES__CIVITAI__ENDPOINT: hub.url,
  };
  return async (...argv) => {
    let out = '';
    let err = '';
    const code = await adminCli(['models', ...argv], {
      out: (t) => (out += t),
      err: (t) => (err += t),
      env,
    });
    return { code, out, err };
  };
}

test('pictor models: pull with JSON progress lines, list, info, rm; Scratchy download spelling; clear failures', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pictor-cli-'));
  const cli = cliFor(dataDir);

  const pulled = await cli('pull', 'org/tiny', '--name', 'tiny2', '--json');
  assert.equal(pulled.code, 0, pulled.err);
  const lines = pulled.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { status: string; total?: number; completed?: number });
  assert.equal(lines[0]?.status, 'pulling manifest');
  assert.ok(lines.some((l) => l.status === 'downloading' && l.completed === l.total));
  assert.deepEqual(lines.at(-1), { status: 'success', model: 'tiny2' });
  assert.doesNotMatch(pulled.out + pulled.err, /hf_never_printed/);

  const downloaded = await cli('download', '700', '--version', '7001');
  assert.equal(downloaded.code, 0, downloaded.err);
  assert.match(downloaded.out, /pulled 'dreamy'/);

  const list = await cli('list');
  assert.match(list.out, /^NAME\s+FORMAT\s+FAMILY\s+SIZE\s+SOURCE/);
  assert.match(list.out, /tiny2\s+onnx\s+-\s+8\.\d MB\s+hf:org\/tiny@main/);
  assert.match(list.out, /dreamy\s+safetensors\s+sd\s+2\.0 KB\s+civitai:700@7001/);
  const listed = JSON.parse((await cli('list', '--json')).out) as { data: { name: string }[] };
  assert.deepEqual(
    listed.data.map((m) => m.name),
    ['tiny', 'dreamy', 'tiny2'],
  );
  const info = await cli('info', 'tiny2');
  assert.match(info.out, /format\s+onnx/);

  const unconfirmed = await cli('rm', 'tiny2');
  assert.equal(unconfirmed.code, 2);
  assert.match(unconfirmed.err, /--yes/);
  const removed = await cli('rm', 'tiny2', '--yes');
  assert.equal(removed.code, 0, removed.err);
  assert.match(removed.out, /removed 'tiny2' \(8\.\d MB freed\)/);
  // The Hugging Face cache copy is gone too.
  assert.ok(!existsSync(path.join(dataDir, 'hf', 'models--org--tiny')));
  assert.ok(!existsSync(path.join(dataDir, 'models', 'tiny2')));

  const missing = await cli('pull', 'hf:org/nope');
  assert.equal(missing.code, 1);
  assert.match(
    missing.err,
    /error: no such repo or revision .*org\/nope@main \(MODEL_SOURCE_NOT_FOUND\)/,
  );
  const unnamed = await cli('download', `${hub.url}/files/model`);
  assert.equal(unnamed.code, 1);
  assert.match(unnamed.err, /name the model/);
  const configured = await cli('rm', 'tiny', '--yes');
  assert.equal(configured.code, 1);
  assert.match(configured.err, /models\.list/);
});
