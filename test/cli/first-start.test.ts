// A first start on a port that is taken: one clear line and no admin key spent, so the next
// start creates and prints it; and `pictor keys admin-reset` for an admin key that was lost.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { childEnv } from '../helpers/child-env.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/pictor.js');
const env = childEnv({ PICTOR_WORKERS__ENGINE: 'fake', PICTOR_LOG__LEVEL: 'warn' });

function keys(dataDir: string, ...args: string[]): { status: number | null; stdout: string } {
  const run = spawnSync(process.execPath, [bin, 'keys', ...args, '--data-dir', dataDir], {
    encoding: 'utf8',
    env,
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout };
}

test('a taken port is one line naming it and what to do; no admin key is spent', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pictor-first-start-'));
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as AddressInfo).port;
  try {
    const run = spawnSync(
      process.execPath,
      [bin, 'serve', '--port', String(port), '--data-dir', dataDir],
      { encoding: 'utf8', env, timeout: 60_000 },
    );
    assert.equal(run.status, 1, run.stderr);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0] ?? '', new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
    assert.match(lines[0] ?? '', new RegExp(`--port ${port + 1}`));
    assert.doesNotMatch(run.stdout + run.stderr, /EADDRINUSE|at .*\.ts:\d+/);
  } finally {
    taken.close();
  }
  const listed = keys(dataDir, 'list', '--json');
  assert.equal(listed.status, 0);
  assert.deepEqual((JSON.parse(listed.stdout) as { data: unknown[] }).data, []);

  // The next start, on a free port, creates the admin key and prints it.
  const server = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dataDir], {
    env,
  });
  let out = '';
  const printed = await new Promise<string>((resolve, reject) => {
    server.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const key = /admin API key \(shown once; store it now\):\s+(sk_\S+)/.exec(out)?.[1];
      if (key !== undefined) resolve(key);
    });
    server.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  const stopped = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await stopped;
  assert.match(printed, /^sk_/);

  // Lost it: admin-reset deactivates it and prints a new one.
  const reset = keys(dataDir, 'admin-reset', '--json');
  assert.equal(reset.status, 0);
  const fresh = JSON.parse(reset.stdout) as {
    key: string;
    scopes: string[];
    deactivated: string[];
  };
  assert.match(fresh.key, /^sk_/);
  assert.notEqual(fresh.key, printed);
  assert.deepEqual(fresh.scopes, ['generate', 'admin']);
  assert.equal(fresh.deactivated.length, 1);
  const after = (
    JSON.parse(keys(dataDir, 'list', '--json').stdout) as {
      data: { name: string; active: boolean }[];
    }
  ).data;
  assert.deepEqual(
    after.map((k) => [k.name, k.active]),
    [
      ['admin', false],
      ['admin', true],
    ],
  );
});
