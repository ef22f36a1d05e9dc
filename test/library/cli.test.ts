import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { adminCli } from '../../src/cli/admin-cli.ts';
import { waitFor } from '../accounts/helpers.ts';
import { realCheckpointTensors } from '../helpers/checkpoint-headers.ts';
import { FakeHub, repoFromFolder } from '../helpers/fake-hub.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';
import { writeSafetensors } from '../helpers/safetensors-files.ts';

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

/** A port nothing listens on (a server's, once closed). */
let closedPort = 0;
before(async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closedPort = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
});

function cliFor(
  dataDir: string,
  extraEnv: Record<string, string> = {},
): (...argv: string[]) => Promise<{ code: number; out: string; err: string }> {
  const env = {
    PICTOR_CONFIG: path.join(ROOT, 'test/helpers/empty.yaml'),
    PICTOR_SERVER__PORT: String(closedPort),
    PICTOR_DATA_DIR: dataDir,
    HF_ENDPOINT: hub.url,
    HF_HUB_CACHE: path.join(dataDir, 'hf'),
    HF_TOKEN: 'hf_never_printed',
    PICTOR_SOURCES__CIVITAI__ENDPOINT: hub.url,
    ...extraEnv,
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
  assert.match(list.out, /^NAME\s+STATE\s+FORMAT\s+FAMILY\s+SIZE\s+SOURCE/);
  assert.match(list.out, /tiny2\s+\?\s+onnx\s+-\s+8\.\d MB\s+hf:org\/tiny@main/);
  assert.match(list.out, /dreamy\s+\?\s+safetensors\s+sd\s+2\.0 KB\s+civitai:700@7001/);
  // No server runs on this config's port: the CLI says it cannot know what is loaded.
  assert.match(list.out, /\(state unknown: no server answers at http:\/\/127\.0\.0\.1:\d+\)/);
  const listed = JSON.parse((await cli('list', '--json')).out) as { data: { name: string }[] };
  assert.deepEqual(
    listed.data.map((m) => m.name),
    ['tiny', 'dreamy', 'tiny2'],
  );
  const info = await cli('info', 'tiny2');
  assert.match(info.out, /format\s+onnx/);
  assert.match(info.out, /state\s+unknown: no server answers at/);

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

test('pictor models pull on a terminal: a line per file and a total, each with a bar, bytes, speed and ETA, redrawn in place', async () => {
  const files = repoFromFolder(path.join(ROOT, 'models/tiny'));
  const unet = files.get('unet/model.onnx');
  assert.ok(unet);
  let openGate = (): void => undefined;
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  files.set('unet/model.onnx', { ...unet, gate: { after: 2_000_000, open: gate } });
  hub.repos.set('org/slow', { sha: 'e'.repeat(40), files });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pictor-cli-tty-'));
  let out = '';
  const pulled = adminCli(['models', 'pull', 'org/slow', '--data-dir', dataDir], {
    out: (t) => (out += t),
    err: (t) => (out += t),
    env: {
      PICTOR_CONFIG: path.join(ROOT, 'test/helpers/empty.yaml'),
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: path.join(dataDir, 'hf'),
    },
    interactive: true,
  });
  try {
    // Held after 2 MB of its 5.8 MB: the UNet's line shows it part-way, with a rate and ETA.
    const partial = await waitFor(
      () =>
        Promise.resolve(
          /unet\/model\.onnx\s+(\d+)% ▕█* *▏ [\d.]+ [KM]?B\/5\.8 MB {2}[\d.]+ [KM]?B\/s {2}ETA (\d+m)?\d+s/.exec(
            out,
          ) ?? undefined,
        ),
      20_000,
      "the UNet's progress line",
    );
    assert.ok(Number(partial[1]) < 100);
  } finally {
    openGate();
  }
  assert.equal(await pulled, 0, out);
  // Every file has its line, the total has its own, and each redraw goes back over the last.
  assert.match(
    out,
    /vae_decoder\/model\.onnx\s+100% ▕█{20}▏ 775\.0 KB\/775\.0 KB {2}(verifying|[\d.]+ [KM]?B\/s)/,
  );
  assert.match(out, /total\s+\d+% ▕[█ ]{20}▏ [\d.]+ [KM]?B\/8\.\d MB {2}[\d.]+ [KM]?B\/s {2}ETA/);
  const ESC = String.fromCharCode(27);
  assert.match(out, new RegExp(`${ESC}\\[\\d+F${ESC}\\[2K`));
  assert.match(out, /pulled 'slow' \(8\.\d MB\)\n$/);
});

test("Scratchy's spellings: download a civitai.com link (with --version, or naming its version) and a URL with --name", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pictor-cli-'));
  const cli = cliFor(dataDir);
  // civitai.com links go to the configured CivitAI endpoint (the fake hub).
  const link = await cli('download', 'https://civitai.com/models/700', '--version', '7001');
  assert.equal(link.code, 0, link.err);
  assert.match(link.out, /pulled 'dreamy'/);
  const versioned = await cli(
    'download',
    'https://civitai.com/models/700?modelVersionId=7001',
    '--name',
    'dreamy-again',
  );
  assert.equal(versioned.code, 0, versioned.err);
  const url = `${hub.url}/api/download/models/7001`;
  const plain = await cli('download', url, '--name', 'plain');
  assert.equal(plain.code, 0, plain.err);
  assert.match(plain.out, /pulled 'plain'/);
  const listed = JSON.parse((await cli('list', '--json')).out) as {
    data: { name: string; format: string; source: string | null }[];
  };
  const byName = Object.fromEntries(listed.data.map((m) => [m.name, m]));
  assert.equal(byName['dreamy']?.source, 'civitai:700@7001');
  assert.equal(byName['dreamy-again']?.source, 'civitai:700@7001');
  assert.equal(byName['plain']?.format, 'safetensors');
  assert.equal(byName['plain']?.source, url);
  const file = readFileSync(path.join(dataDir, 'models', 'plain.safetensors'));
  assert.ok(file.equals(Buffer.alloc(2048, 9)));
});

test("pictor models info: a checkpoint's memory per quantization against the budget, the configured one marked", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pictor-cli-memory-'));
  mkdirSync(path.join(dataDir, 'models'));
  // SD 1.5's real header over a sparse file: the estimate reads names and shapes only.
  await writeSafetensors(
    path.join(dataDir, 'models', 'sd15.safetensors'),
    realCheckpointTensors('sd15'),
    {
      sparse: true,
    },
  );
  writeFileSync(
    path.join(dataDir, 'models', 'sd15.pictor.json'),
    JSON.stringify({ quantization: '8bit' }),
  );
  const cli = cliFor(dataDir, { PICTOR_WORKERS__MEMORY_BUDGET_GB: '6.5' });

  const human = await cli('info', 'sd15');
  assert.equal(human.code, 0, human.err);
  assert.match(human.out, /quantization\s+int8/);
  assert.match(
    human.out,
    /memory on CPU \(sd, 512×512, batch of 2; workers\.memoryBudgetGb 6\.5\):/,
  );
  assert.match(
    human.out,
    /none\s+\d+\.\d\d GB\s+\(weights 3\.97 \+ working \d+\.\d\d\) {2}over budget\n/,
  );
  assert.match(
    human.out,
    /int8\s+\d+\.\d\d GB\s+\(weights 3\.03 \+ working \d+\.\d\d\) {2}← configured\n/,
  );
  // A float32 file: nothing for ONNX Runtime to fold at a first start.
  assert.doesNotMatch(human.out, /a first start/);

  const json = JSON.parse((await cli('info', 'sd15', '--json')).out) as {
    quantization: string;
    memory: {
      family: string;
      budget_gb: number;
      by_quantization: {
        quantization: string;
        total_gb: number;
        fits_budget: boolean;
        configured: boolean;
      }[];
    };
  };
  assert.equal(json.quantization, 'int8');
  assert.equal(json.memory.family, 'sd');
  assert.equal(json.memory.budget_gb, 6.5);
  assert.deepEqual(
    json.memory.by_quantization.map((q) => [q.quantization, q.fits_budget, q.configured]),
    [
      ['none', false, false],
      ['int8', true, true],
      ['int4', true, false],
    ],
  );
});

test("pictor models set: edits a pulled model's sidecar, checked; configured models are refused", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pictor-cli-'));
  const cli = cliFor(dataDir);
  assert.equal((await cli('download', '700', '--version', '7001')).code, 0);
  const set = await cli('set', 'dreamy', 'cost=3', 'keepAliveSeconds=-1', 'family=sdxl', '--json');
  assert.equal(set.code, 0, set.err);
  const changed = JSON.parse(set.out) as Record<string, unknown>;
  assert.deepEqual(
    [changed['cost'], changed['keep_alive_seconds'], changed['family_hint'], changed['source']],
    [3, -1, 'sdxl', 'civitai:700@7001'],
  );
  const sidecar = JSON.parse(
    readFileSync(path.join(dataDir, 'models', 'dreamy.pictor.json'), 'utf8'),
  ) as Record<string, unknown>;
  assert.deepEqual([sidecar['cost'], sidecar['source']], [3, 'civitai:700@7001']);
  // A wrong value changes nothing and names the key; `key=` removes a setting.
  const wrong = await cli('set', 'dreamy', 'cost=1', 'keepAliveSeconds=-5');
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /keepAliveSeconds=-5: seconds an idle model stays loaded/);
  const quantized = JSON.parse((await cli('set', 'dreamy', 'quantization=4bit', '--json')).out) as {
    quantization: unknown;
  };
  assert.equal(quantized.quantization, 'int4', "Scratchy's 4bit is int4");
  assert.match(
    (await cli('set', 'dreamy', 'quantization=fp8')).err,
    /quantization=fp8: a checkpoint's linear weights: none, int8, int4, 8bit, 4bit/,
  );
  const unknown = await cli('set', 'dreamy', 'colour=red');
  assert.match(unknown.err, /key one of family, cost, keepAliveSeconds/);
  const removed = JSON.parse((await cli('set', 'dreamy', 'cost=', '--json')).out) as {
    cost: unknown;
    keep_alive_seconds: unknown;
  };
  assert.deepEqual([removed.cost, removed.keep_alive_seconds], [null, -1]);
  // Tokenizer folders, by encoder, made absolute from the working directory; `key=` removes one.
  const named = await cli(
    'set',
    'dreamy',
    'tokenizers.t5=some/t5-folder',
    'tokenizers.qwen3=/srv/qwen3',
    '--json',
  );
  assert.equal(named.code, 0, named.err);
  assert.deepEqual((JSON.parse(named.out) as { tokenizers: unknown }).tokenizers, {
    t5: path.resolve('some/t5-folder'),
    qwen3: '/srv/qwen3',
  });
  const one = JSON.parse((await cli('set', 'dreamy', 'tokenizers.qwen3=', '--json')).out) as {
    tokenizers: unknown;
  };
  assert.deepEqual(one.tokenizers, { t5: path.resolve('some/t5-folder') });
  const none = JSON.parse((await cli('set', 'dreamy', 'tokenizers.t5=', '--json')).out) as {
    tokenizers: unknown;
  };
  assert.equal(none.tokenizers, null);
  assert.ok(
    !(
      'tokenizers' in
      (JSON.parse(
        readFileSync(path.join(dataDir, 'models', 'dreamy.pictor.json'), 'utf8'),
      ) as object)
    ),
    'an emptied section is removed from the sidecar',
  );
  // Overrides of what the files say go under `overrides`, as in models.list.
  const overridden = JSON.parse(
    (
      await cli(
        'set',
        'dreamy',
        'steps=4',
        'predictionType=v_prediction',
        'guidanceScale=1.5',
        '--json',
      )
    ).out,
  ) as { overrides: unknown };
  assert.deepEqual(overridden.overrides, {
    steps: 4,
    predictionType: 'v_prediction',
    guidanceScale: 1.5,
  });
  assert.match(
    (await cli('set', 'dreamy', 'steps=0')).err,
    /steps=0: default steps, an integer > 0/,
  );
  assert.match(
    (await cli('set', 'dreamy', 'vae=vae.safetensors')).err,
    /vae=vae\.safetensors: checkpoints: the absolute path/,
  );
  const sidecarNow = JSON.parse(
    readFileSync(path.join(dataDir, 'models', 'dreamy.pictor.json'), 'utf8'),
  ) as Record<string, unknown>;
  assert.deepEqual(sidecarNow['overrides'], overridden.overrides);
  const configured = await cli('set', 'tiny', 'cost=1');
  assert.equal(configured.code, 1);
  assert.match(configured.err, /pictor\.yaml/);
  assert.equal((await cli('set', 'dreamy')).code, 2);
});

test("pictor models list: each model's state from the running server, with a key when it wants one", async () => {
  const adminKey = 'sk_test_cli_models_admin_0123456789abc';
  const config = testConfig({ PICTOR_AUTH__ENABLED: 'true', PICTOR_ADMIN_KEY: adminKey });
  const pictor = await startPictor(config);
  try {
    const address = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
    const port = new URL(address).port;
    const cli = cliFor(config.dataDir, { PICTOR_SERVER__PORT: port });
    const locked = await cli('list');
    assert.match(locked.out, /tiny\s+\?\s+onnx/);
    assert.match(
      locked.out,
      /state unknown: the server at http:\/\/127\.0\.0\.1:\d+ wants an API key/,
    );
    const listed = await cli('list', '--key', adminKey);
    assert.equal(listed.code, 0, listed.err);
    // The fake engine holds its models loaded.
    assert.match(listed.out, /tiny\s+loaded\s+onnx/);
    assert.doesNotMatch(listed.out, /state unknown/);
    const json = JSON.parse((await cli('list', '--key', adminKey, '--json')).out) as {
      data: { name: string; state: string }[];
      server: { reachable: boolean };
    };
    assert.deepEqual(json.data.find((m) => m.name === 'tiny')?.state, 'loaded');
    assert.equal(json.server.reachable, true);
    const info = JSON.parse((await cli('info', 'tiny', '--key', adminKey, '--json')).out) as {
      state: string;
    };
    assert.equal(info.state, 'loaded');
    assert.doesNotMatch(JSON.stringify(json), new RegExp(adminKey));
  } finally {
    await pictor.stop();
  }
});

test('pictor models rm with a server running: the server removes it, refusing while a job uses it; the job completes', async () => {
  const adminKey = 'sk_test_cli_rm_admin_0123456789abcdef';
  const config = testConfig({ PICTOR_AUTH__ENABLED: 'true', PICTOR_ADMIN_KEY: adminKey });
  const spare = path.join(config.models.dir, 'spare');
  cpSync(path.join(ROOT, 'models/tiny'), spare, { recursive: true });
  // 30 steps of 200 ms: the job outlives the CLI calls made while it runs.
  const pictor = await startPictor(config, 200);
  try {
    const base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
    const cli = cliFor(config.dataDir, { PICTOR_SERVER__PORT: new URL(base).port });
    const submitted = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'spare', prompt: 'x', steps: 30 }),
    });
    assert.equal(submitted.status, 202, await submitted.clone().text());
    const { job_id: jobId } = (await submitted.json()) as { job_id: string };
    const jobStatus = async (): Promise<string> =>
      (
        (await (
          await fetch(`${base}/v1/jobs/${jobId}`, {
            headers: { authorization: `Bearer ${adminKey}` },
          })
        ).json()) as { status: string }
      ).status;

    // Only the server knows the job: without an admin key the CLI is told to give one.
    const keyless = await cli('rm', 'spare', '--yes');
    assert.equal(keyless.code, 1);
    assert.match(keyless.err, /a server runs at .* give it an admin key \(--key sk_…\)/);
    const refused = await cli('rm', 'spare', '--yes', '--key', adminKey);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /jobs are queued or running on 'spare'.*\(MODEL_IN_USE\)/);
    assert.ok(existsSync(path.join(spare, 'unet', 'model.onnx')), 'nothing deleted under the job');
    assert.ok(['queued', 'running'].includes(await jobStatus()), 'the job was still under way');

    const done = await waitFor(
      async () => {
        const status = await jobStatus();
        return ['queued', 'running'].includes(status) ? undefined : status;
      },
      30_000,
      'the job to finish',
    );
    assert.equal(done, 'completed');
    const removed = await cli('rm', 'spare', '--yes', '--key', adminKey, '--json');
    assert.equal(removed.code, 0, removed.err);
    assert.equal((JSON.parse(removed.out) as { deleted: { name: string } }).deleted.name, 'spare');
    assert.ok(!existsSync(spare));
    assert.ok(!pictor.library.get('spare'), 'the server dropped it from its library');
  } finally {
    await pictor.stop();
  }
});
