import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ProblemError } from '../../src/errors/index.ts';
import { ModelLibrary } from '../../src/library/model-library.ts';
import { FakeHub, repoFromFolder, type HubFile } from '../helpers/fake-hub.ts';
import { testConfig } from '../helpers/pictor.ts';

const TINY = path.resolve(import.meta.dirname, '../../models/tiny');
const hub = new FakeHub();

before(async () => {
  await hub.listen();
});
after(async () => {
  await hub.close();
});

let repoCount = 0;
/** A fresh repo on the hub: a copy of models/tiny as a diffusers ONNX repo (plus a pickle). */
function tinyRepo(options: { token?: string; forbidden?: boolean } = {}): string {
  const name = `org/tiny-${++repoCount}`;
  const files = repoFromFolder(TINY, { 'unet/diffusion_pytorch_model.bin': Buffer.alloc(64, 7) });
  hub.repos.set(name, { sha: `${repoCount}`.padStart(40, 'b'), files, ...options });
  return name;
}

function library(env: Record<string, string> = {}): {
  lib: ModelLibrary;
  dataDir: string;
  cache: string;
} {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pictor-lib-'));
  const cache = path.join(dataDir, 'hf-cache');
  const config = testConfig(
    {
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: cache,
      PICTOR_SOURCES__CIVITAI__ENDPOINT: hub.url,
      PICTOR_SOURCES__RETRY_BACKOFF_MS: '10',
      PICTOR_SOURCES__RETRIES: '2',
      ...env,
    },
    dataDir,
  );
  return { lib: new ModelLibrary(config), dataDir, cache };
}

async function failure(promise: Promise<unknown>): Promise<ProblemError> {
  const error = await promise.then(
    () => assert.fail('expected the pull to fail'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ProblemError, String(error));
  return error;
}

test('a Hugging Face pull fills the standard cache layout, links the model into the library, never fetches pickles', async () => {
  const repo = tinyRepo();
  const { lib, dataDir, cache } = library();
  const pull = lib.pull(`hf:${repo}`);
  assert.equal(await pull.done, repo.split('/')[1]);
  const repoDir = path.join(cache, `models--${repo.replace('/', '--')}`);
  const commit = hub.repos.get(repo)?.sha ?? '';
  assert.equal(readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8'), commit);
  const unet = path.join(repoDir, 'snapshots', commit, 'unet', 'model.onnx');
  assert.ok(lstatSync(unet).isSymbolicLink());
  const bytes = readFileSync(unet);
  assert.ok(bytes.equals(readFileSync(path.join(TINY, 'unet/model.onnx'))));
  const blob = path.basename(realpathSync(unet));
  assert.equal(blob, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(hub.downloads('diffusion_pytorch_model.bin'), 0);
  assert.ok(!readdirSync(path.join(repoDir, 'blobs')).some((b) => b.endsWith('.partial')));
  const model = lib.get(repo.split('/')[1] ?? '');
  assert.equal(model?.format, 'onnx');
  assert.equal(model?.source, `hf:${repo}@main`);
  assert.ok(lstatSync(path.join(dataDir, 'models', repo.split('/')[1] ?? '')).isSymbolicLink());
  const events = pull.events.map((e) => e.status);
  assert.equal(events[0], 'pulling manifest');
  assert.ok(events.includes('downloading') && events.includes('verifying'));
  assert.equal(events.at(-1), 'success');
});

test('a dropped connection resumes with a Range request from where it stopped', async () => {
  const repo = tinyRepo();
  const unet = hub.repos.get(repo)?.files.get('unet/model.onnx');
  assert.ok(unet);
  unet.dropAfter = 1_000_000;
  const { lib } = library();
  await lib.pull(`hf:${repo}`, { name: 'resumed' }).done;
  const requests = hub.requests.filter((r) =>
    r.url.endsWith(`${repo}/resolve/${hub.repos.get(repo)?.sha}/unet/model.onnx`),
  );
  assert.equal(requests.length, 2);
  assert.equal(requests[0]?.range, undefined);
  // What had arrived when the connection dropped (some of the 1 MB sent may still be in flight).
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(requests[1]?.range ?? '')?.[1]);
  assert.ok(resumedAt > 0 && resumedAt <= 1_000_000, String(requests[1]?.range));
  assert.ok(lib.get('resumed'));
});

test('a network that stays down fails clearly and keeps the partial file for the next pull', async () => {
  const repo = tinyRepo();
  const unet = hub.repos.get(repo)?.files.get('unet/model.onnx');
  assert.ok(unet);
  unet.alwaysDrop = true;
  unet.dropAfter = 5000;
  const { lib, cache } = library();
  const error = await failure(lib.pull(`hf:${repo}`).done);
  assert.equal(error.code, 'MODEL_DOWNLOAD_FAILED');
  assert.match(error.message, /failed 3 times.*bytes are kept and the next pull resumes/);
  const blobs = readdirSync(path.join(cache, `models--${repo.replace('/', '--')}`, 'blobs'));
  assert.ok(blobs.some((b) => b.endsWith('.partial')));
  assert.equal(lib.get(repo.split('/')[1] ?? ''), undefined);
  unet.alwaysDrop = false;
  await lib.pull(`hf:${repo}`).done;
  assert.ok(lib.get(repo.split('/')[1] ?? ''));
});

test('a file that does not match its published hash is deleted and the pull says so', async () => {
  const repo = tinyRepo();
  const file = hub.repos.get(repo)?.files.get('vae_decoder/model.onnx');
  assert.ok(file);
  file.corrupt = true;
  const { lib, cache, dataDir } = library();
  const pull = lib.pull(`hf:${repo}`);
  const error = await failure(pull.done);
  assert.equal(error.code, 'MODEL_HASH_MISMATCH');
  assert.match(
    error.message,
    /vae_decoder\/model\.onnx: sha256 [0-9a-f]+ does not match .*deleted/,
  );
  const blobs = readdirSync(path.join(cache, `models--${repo.replace('/', '--')}`, 'blobs'));
  const expected = createHash('sha256').update(file.data).digest('hex');
  assert.ok(!blobs.includes(expected) && !blobs.includes(`${expected}.partial`));
  assert.ok(
    !existsSync(path.join(dataDir, 'models')) ||
      readdirSync(path.join(dataDir, 'models')).length === 0,
  );
  assert.equal(pull.events.at(-1)?.status, 'error');
});

test('a gated repo without a token fails naming HF_TOKEN; with it the pull works and the token goes to the hub only', async () => {
  const repo = tinyRepo({ token: 'hf_secret_token' });
  const error = await failure(library().lib.pull(`hf:${repo}`).done);
  assert.equal(error.code, 'MODEL_SOURCE_UNAUTHORIZED');
  assert.match(error.message, /401 .*HF_TOKEN/);
  assert.doesNotMatch(error.message, /hf_secret_token/);
  const { lib } = library({ HF_TOKEN: 'hf_secret_token' });
  const pull = lib.pull(`hf:${repo}`);
  await pull.done;
  assert.doesNotMatch(JSON.stringify(pull.events), /hf_secret_token/);
});

test('a gated repo whose terms were not accepted (403 with the token) fails naming what to do', async () => {
  const repo = tinyRepo({ token: 'hf_secret_token', forbidden: true });
  const error = await failure(library({ HF_TOKEN: 'hf_secret_token' }).lib.pull(`hf:${repo}`).done);
  assert.equal(error.code, 'MODEL_SOURCE_UNAUTHORIZED');
  assert.match(error.message, /^403 .*HF_TOKEN.*terms accepted on the site/);
  assert.doesNotMatch(error.message, /hf_secret_token/);
});

test('a revision and a subfolder: only that folder is fetched and linked', async () => {
  const repo = `org/multi-${++repoCount}`;
  const files = new Map<string, HubFile>();
  for (const [file, f] of repoFromFolder(TINY)) {
    files.set(`v1/${file}`, f);
    files.set(`v2/${file}`, f);
  }
  hub.repos.set(repo, { sha: 'c'.repeat(40), files });
  const { lib } = library();
  const before = hub.requests.length;
  assert.equal(await lib.pull(`hf:${repo}@main/v2`).done, 'v2');
  const fetched = hub.requests.slice(before).filter((r) => r.url.includes('/resolve/'));
  assert.ok(fetched.length > 0 && fetched.every((r) => r.url.includes(`/${'c'.repeat(40)}/v2/`)));
  assert.ok(realpathSync(lib.get('v2')?.path ?? '').endsWith(path.join('c'.repeat(40), 'v2')));
  assert.equal(lib.get('v2')?.source, `hf:${repo}@main/v2`);
});

test('an unknown repo is a 404 naming it', async () => {
  const error = await failure(library().lib.pull('hf:org/no-such-repo').done);
  assert.equal(error.code, 'MODEL_SOURCE_NOT_FOUND');
  assert.match(error.message, /no such repo or revision .*org\/no-such-repo@main/);
});

test('two concurrent pulls of one model share one download', async () => {
  const repo = tinyRepo();
  const { lib } = library();
  const first = lib.pull(`hf:${repo}`);
  const second = lib.pull(`hf:${repo}`);
  assert.equal(first, second);
  const third = lib.pull(repo);
  await Promise.all([first.done, third.done]);
  assert.equal(hub.downloads(`${hub.repos.get(repo)?.sha}/unet/model.onnx`), 1);
});

test('several files download at once, up to sources.parallelDownloads', async (t) => {
  const repo = tinyRepo();
  const files = hub.repos.get(repo)?.files;
  assert.ok(files);
  // Three files that cannot finish until the test lets them: seen together only if in parallel.
  const gated = ['unet/model.onnx', 'vae_decoder/model.onnx', 'text_encoder/model.onnx'];
  let release = (): void => undefined;
  const open = new Promise<void>((resolve) => (release = resolve));
  t.after(() => release()); // a failed assertion must not leave the downloads held
  for (const file of gated) {
    const f = files.get(file);
    assert.ok(f);
    files.set(file, { ...f, gate: { after: 100_000, open } });
  }
  const url = (file: string): string => `${hub.repos.get(repo)?.sha}/${file}`;
  const { lib } = library({ PICTOR_SOURCES__PARALLEL_DOWNLOADS: '3' });
  const pull = lib.pull(`hf:${repo}`);
  const settled = pull.done.then(
    () => 'done',
    (e: unknown) => `failed: ${String(e)}`,
  );
  const deadline = Date.now() + 15_000;
  while (gated.some((file) => hub.downloads(url(file)) === 0)) {
    assert.ok(Date.now() < deadline, 'the three held files were never requested together');
    assert.equal(await Promise.race([settled, Promise.resolve('running')]), 'running');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  // All three are in flight at once, none finished (their gates are shut).
  assert.ok(
    !pull.events.some(
      (e) => e.status === 'verifying' && gated.includes(e.file.slice(repo.length + 1)),
    ),
  );
  release();
  assert.equal(await settled, 'done');
  for (const file of gated) assert.equal(hub.downloads(url(file)), 1);
});

test('two libraries sharing a Hugging Face cache (the server and a CLI pull) download each blob once', async () => {
  const repo = tinyRepo();
  const files = hub.repos.get(repo)?.files;
  const unet = files?.get('unet/model.onnx');
  assert.ok(files && unet);
  let release = (): void => undefined;
  files.set('unet/model.onnx', {
    ...unet,
    gate: { after: 1 << 20, open: new Promise((resolve) => (release = resolve)) },
  });
  const cache = mkdtempSync(path.join(tmpdir(), 'pictor-shared-hf-'));
  const server = library({ HF_HUB_CACHE: cache });
  const cli = library({ HF_HUB_CACHE: cache });
  const unetUrl = `${hub.repos.get(repo)?.sha}/unet/model.onnx`;
  const first = server.lib.pull(`hf:${repo}`);
  // The first holds the UNet's lock (its download is under way) when the second starts.
  while (hub.downloads(unetUrl) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const second = cli.lib.pull(`hf:${repo}`);
  const secondStarted = new Promise<void>((resolve) => {
    const stop = second.subscribe((e) => {
      if (e.status === 'downloading') {
        resolve();
        queueMicrotask(() => stop());
      }
    });
  });
  await secondStarted;
  release();
  const name = repo.split('/')[1];
  assert.deepEqual(await Promise.all([first.done, second.done]), [name, name]);
  assert.equal(hub.downloads(unetUrl), 1);
  const blobs = readdirSync(path.join(cache, `models--${repo.replace('/', '--')}`, 'blobs'));
  assert.deepEqual(
    blobs.filter((b) => b.endsWith('.lock') || b.endsWith('.partial')),
    [],
  );
});

test('a lock left by a process that died is taken over', async () => {
  const repo = tinyRepo();
  const { lib, cache } = library();
  const sha256 = createHash('sha256')
    .update(hub.repos.get(repo)?.files.get('unet/model.onnx')?.data ?? '')
    .digest('hex');
  const blobs = path.join(cache, `models--${repo.replace('/', '--')}`, 'blobs');
  mkdirSync(blobs, { recursive: true });
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  writeFileSync(path.join(blobs, `${sha256}.partial.lock`), String(dead));
  assert.equal(await lib.pull(`hf:${repo}`).done, repo.split('/')[1]);
  assert.ok(existsSync(path.join(blobs, sha256)));
  assert.ok(!existsSync(path.join(blobs, `${sha256}.partial.lock`)));
});

test('a model already in the Hugging Face cache is linked with no network call', async () => {
  const repo = tinyRepo();
  const { lib, dataDir } = library();
  await lib.pull(`hf:${repo}`).done;
  // The same cache, a hub that is gone.
  const offline = new ModelLibrary(
    testConfig(
      { HF_ENDPOINT: 'http://127.0.0.1:9', HF_HUB_CACHE: path.join(dataDir, 'hf-cache') },
      mkdtempSync(path.join(tmpdir(), 'pictor-lib-')),
    ),
  );
  const before = hub.requests.length;
  await offline.pull(`hf:${repo}`, { name: 'offline' }).done;
  assert.equal(hub.requests.length, before);
  assert.equal(offline.get('offline')?.format, 'onnx');
});

/**
 * Writes `files` into a Hugging Face cache the way Python's huggingface_hub does, independently
 * of Pictor's code: blobs named by etag (the LFS sha256, else the Git blob sha1), snapshot files
 * as relative symlinks to them, `refs/main` holding the commit with no newline, a `.no_exist`
 * folder. `interrupted` files are left as huggingface_hub leaves a stopped download: an
 * `.incomplete` blob and no link.
 */
function pythonCache(
  cache: string,
  repo: string,
  commit: string,
  files: Map<string, HubFile>,
  interrupted: readonly string[] = [],
): void {
  const repoDir = path.join(cache, `models--${repo.replace('/', '--')}`);
  mkdirSync(path.join(repoDir, 'blobs'), { recursive: true });
  mkdirSync(path.join(repoDir, 'refs'), { recursive: true });
  mkdirSync(path.join(repoDir, '.no_exist', commit), { recursive: true });
  writeFileSync(path.join(repoDir, 'refs', 'main'), commit);
  writeFileSync(path.join(repoDir, '.no_exist', commit, 'model_index.fp16.json'), '');
  for (const [file, { data, lfs }] of files) {
    const etag = lfs
      ? createHash('sha256').update(data).digest('hex')
      : createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
    const blob = path.join(repoDir, 'blobs', etag);
    if (interrupted.includes(file)) {
      writeFileSync(`${blob}.${'7'.repeat(8)}.incomplete`, data.subarray(0, data.length >> 1));
      continue;
    }
    writeFileSync(blob, data);
    const link = path.join(repoDir, 'snapshots', commit, file);
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(path.relative(path.dirname(link), blob), link);
  }
}

test("a model Python's huggingface_hub downloaded is served from its cache with no network call", async () => {
  const commit = 'a'.repeat(40);
  const { dataDir } = library();
  const cache = path.join(dataDir, 'python-hf');
  pythonCache(cache, 'org/py-model', commit, repoFromFolder(TINY));
  // Nothing listens on port 9: any network call fails the pull.
  const offline = new ModelLibrary(
    testConfig({ HF_ENDPOINT: 'http://127.0.0.1:9', HF_HUB_CACHE: cache }, dataDir),
  );
  assert.equal(await offline.pull('org/py-model').done, 'py-model');
  assert.equal(await offline.pull(`hf:org/py-model@${commit}`, { name: 'pinned' }).done, 'pinned');
  const model = offline.get('py-model');
  assert.equal(model?.format, 'onnx');
  assert.equal(
    realpathSync(model?.path ?? ''),
    path.join(cache, 'models--org--py-model', 'snapshots', commit),
  );
  assert.ok(
    readFileSync(path.join(model?.path ?? '', 'unet', 'model.onnx')).equals(
      readFileSync(path.join(TINY, 'unet/model.onnx')),
    ),
  );
});

test('a Python download stopped half-way is completed (only what is missing is fetched), not served as it is', async () => {
  const repo = tinyRepo();
  const commit = hub.repos.get(repo)?.sha ?? '';
  const files = hub.repos.get(repo)?.files;
  assert.ok(files);
  const { lib, cache } = library();
  pythonCache(cache, repo, commit, files, ['unet/model.onnx']);
  const before = hub.requests.length;
  const name = repo.split('/')[1] ?? '';
  assert.equal(await lib.pull(`hf:${repo}`).done, name);
  const fetched = hub.requests.slice(before).filter((r) => r.url.includes('/resolve/'));
  assert.deepEqual(
    fetched.map((r) => r.url.slice(r.url.indexOf(commit) + commit.length + 1)),
    ['unet/model.onnx'],
  );
  const unet = path.join(lib.get(name)?.path ?? '', 'unet', 'model.onnx');
  assert.ok(readFileSync(unet).equals(files.get('unet/model.onnx')?.data ?? Buffer.alloc(0)));
});

test('CivitAI: a version is downloaded to NAME.safetensors, checked against its SHA256, family from the base model', async () => {
  const data = Buffer.alloc(300_000, 3);
  hub.civitai.set(4001, {
    id: 4001,
    modelId: 400,
    baseModel: 'SDXL 1.0',
    fileName: 'My Model v2.safetensors',
    data,
  });
  const { lib, dataDir } = library();
  assert.equal(await lib.pull('civitai:400').done, 'My-Model-v2');
  const model = lib.get('My-Model-v2');
  assert.equal(model?.format, 'safetensors');
  assert.equal(model?.family, 'sdxl');
  assert.equal(model?.source, 'civitai:400@4001');
  assert.ok(readFileSync(path.join(dataDir, 'models', 'My-Model-v2.safetensors')).equals(data));

  hub.civitai.set(4002, {
    id: 4002,
    modelId: 401,
    baseModel: 'SD 1.5',
    fileName: 'bad.safetensors',
    data,
    sha256: 'ab'.repeat(32),
  });
  // A civitai.com link goes through the configured endpoint.
  const bad = await failure(lib.pull('https://civitai.com/models/401?modelVersionId=4002').done);
  assert.equal(bad.code, 'MODEL_HASH_MISMATCH');
  assert.ok(!existsSync(path.join(dataDir, 'models', 'bad.safetensors')));

  hub.civitai.set(4003, {
    id: 4003,
    modelId: 402,
    baseModel: 'SD 1.5',
    fileName: 'gated.safetensors',
    data,
    token: 'civ_tok',
  });
  const unauthorized = await failure(lib.pull('civitai:402@4003').done);
  assert.equal(unauthorized.code, 'MODEL_SOURCE_UNAUTHORIZED');
  assert.match(unauthorized.message, /CIVITAI_TOKEN/);
  const missing = await failure(lib.pull('civitai:999').done);
  assert.equal(missing.code, 'MODEL_SOURCE_NOT_FOUND');
});

test('a cancelled pull stops, says so, and registers nothing', async () => {
  const repo = tinyRepo();
  const unet = hub.repos.get(repo)?.files.get('unet/model.onnx');
  assert.ok(unet);
  unet.alwaysDrop = true;
  const { lib } = library({ PICTOR_SOURCES__RETRY_BACKOFF_MS: '60000' });
  const pull = lib.pull(`hf:${repo}`);
  await new Promise<void>((resolve) => {
    const off = pull.subscribe((e) => {
      if (e.status === 'downloading' && e.file.endsWith('unet/model.onnx')) {
        queueMicrotask(() => off());
        resolve();
      }
    });
  });
  assert.ok(lib.pulls.cancel(pull.id));
  const error = await failure(pull.done);
  assert.equal(error.code, 'PULL_CANCELLED');
  assert.equal(pull.state, 'cancelled');
  assert.equal(lib.get(repo.split('/')[1] ?? ''), undefined);
});

/** A small tmpfs (root only): a disk that really fills up. Undefined when mounting is not allowed. */
function smallDisk(size: string): { dir: string; unmount: () => void } | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), 'pictor-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  if (mounted.status !== 0) return undefined;
  return { dir, unmount: () => spawnSync('umount', [dir]) };
}

test('a full disk: refused before downloading when the size is known, cleaned up when it fills mid-file; nothing registered', async (t) => {
  const disk = smallDisk('2m');
  if (!disk) {
    t.skip('mounting a tmpfs is not permitted here (needs root)');
    return;
  }
  t.after(disk.unmount);
  const repo = tinyRepo();
  const { lib } = library({
    HF_HUB_CACHE: path.join(disk.dir, 'hf'),
    PICTOR_MODELS__DIR: disk.dir,
  });
  const before = hub.requests.length;
  const known = await failure(lib.pull(`hf:${repo}`).done);
  assert.equal(known.code, 'INSUFFICIENT_STORAGE');
  assert.match(known.message, /needs .* but only .* is free/);
  // Refused before the first byte: no file was requested.
  assert.equal(hub.requests.slice(before).filter((r) => r.url.includes('/resolve/')).length, 0);

  // A plain URL publishes no size: the disk fills during the download.
  hub.civitai.set(5001, {
    id: 5001,
    modelId: 500,
    baseModel: 'SD 1.5',
    fileName: 'big.safetensors',
    data: Buffer.alloc(3 * 1024 * 1024, 1),
  });
  const midway = await failure(
    lib.pull(`${hub.url}/api/download/models/5001`, { name: 'big' }).done,
  );
  assert.equal(midway.code, 'INSUFFICIENT_STORAGE');
  assert.match(midway.message, /disk filled up .*partial file was deleted/);
  assert.deepEqual(
    readdirSync(disk.dir).filter((f) => f !== 'hf'),
    [],
  );
  assert.equal(lib.get('big'), undefined);
});
