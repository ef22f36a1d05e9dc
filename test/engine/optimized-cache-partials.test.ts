// The cold-start cache's temporary folders (`KEY.HOST.PID.RANDOM.partial`) when the data dir is
// shared by several worker processes: one left by a process killed while optimizing is removed
// at the next save, one another live process is writing is left alone, and one from another
// host is removed only once it is older than any optimization takes.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  FOREIGN_PARTIAL_STALE_MS,
  OptimizedModelCache,
} from '../../src/engine/onnx/optimized-model-cache.ts';

const MODULE = pathToFileURL(
  path.join(import.meta.dirname, '../../src/engine/onnx/optimized-model-cache.ts'),
).href;
let cacheDir: string;
const children: ChildProcess[] = [];

before(async () => {
  cacheDir = await mkdtemp(path.join(tmpdir(), 'pictor-partials-'));
});
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await rm(cacheDir, { recursive: true, force: true });
});

/**
 * Another worker process that has started saving an optimized model under `cacheDir` and is
 * still at it (it never commits): resolves with it and its temporary folder once it exists.
 */
async function writerProcess(key: string): Promise<{ child: ChildProcess; folder: string }> {
  const script = `
    const { OptimizedModelCache } = await import(${JSON.stringify(MODULE)});
    const pending = await new OptimizedModelCache(${JSON.stringify(cacheDir)}).prepare(
      ${JSON.stringify(key)}, 'unet', []);
    console.log(pending.modelFile);
    setInterval(() => {}, 60_000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  return { child, folder: path.basename(path.dirname(line)) };
}

async function folders(): Promise<string[]> {
  return (await readdir(path.join(cacheDir, 'optimized'))).sort();
}

test('a killed writer’s folder goes at the next save; a live writer’s and a young foreign one stay', async () => {
  const killed = await writerProcess('a'.repeat(32));
  const live = await writerProcess('b'.repeat(32));
  assert.match(killed.folder, /^a{32}\.[^.]+\.\d+\.[0-9a-f]{8}\.partial$/);
  const exited = once(killed.child, 'exit');
  killed.child.kill('SIGKILL');
  await exited;
  // Another host's writer, which cannot be asked whether it runs: one just started, one
  // abandoned longer ago than any optimization takes.
  const optimized = path.join(cacheDir, 'optimized');
  const young = `${'c'.repeat(32)}.other-host.4242.0badf00d.partial`;
  const old = `${'d'.repeat(32)}.other-host.4243.0badf00d.partial`;
  await mkdir(path.join(optimized, young));
  await mkdir(path.join(optimized, old));
  const long = new Date(Date.now() - FOREIGN_PARTIAL_STALE_MS - 60_000);
  await utimes(path.join(optimized, old), long, long);
  assert.deepEqual(await folders(), [killed.folder, live.folder, young, old].sort());

  const pending = await new OptimizedModelCache(cacheDir).prepare('e'.repeat(32), 'vae', []);
  const own = path.basename(path.dirname(pending.modelFile));
  assert.deepEqual(await folders(), [live.folder, young, own].sort());

  // The live writer keeps its folder until it ends; then the next save removes it too.
  const exited2 = once(live.child, 'exit');
  live.child.kill('SIGKILL');
  await exited2;
  await pending.commit();
  const next = await new OptimizedModelCache(cacheDir).prepare('f'.repeat(32), 'text', []);
  assert.deepEqual(
    await folders(),
    [young, 'e'.repeat(32), path.basename(path.dirname(next.modelFile))].sort(),
  );
  await next.abandon();
});
