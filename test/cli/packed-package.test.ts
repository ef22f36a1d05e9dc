// The published package runs: `npm pack`, installed into an empty folder (as a user's project,
// onnxruntime-node's install script left unapproved as in Pictor's own package.json), then
// `npx pictor serve` starts from the compiled `dist/` with the bundled tiny model and answers
// `GET /v1/health/ready` with 200.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { childEnv } from '../helpers/child-env.ts';

const root = path.resolve(import.meta.dirname, '../..');

test('npm pack → npm install in an empty folder → npx pictor serve is ready', async () => {
  // `npm test` builds first (pretest); the tarball takes the built dist/ as it is.
  assert.ok(
    existsSync(path.join(root, 'dist/cli/main.js')),
    'dist/ is not built: run `npm run build` first',
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'pictor-pack-'));
  const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(pack.status, 0, pack.stderr);
  const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];
  const app = path.join(dir, 'app');
  mkdirSync(app);
  writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({
      name: 'app',
      private: true,
      allowScripts: { 'onnxruntime-node': false, esbuild: false },
    }),
  );
  const install = spawnSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, filename)],
    { cwd: app, encoding: 'utf8' },
  );
  assert.equal(install.status, 0, install.stderr);

  const server = spawn(
    'npx',
    ['--no-install', 'pictor', 'serve', '--port', '0', '--data-dir', './data'],
    // Its own process group: npx runs pictor as a child, and both are stopped together.
    { cwd: app, env: childEnv({ PICTOR_LOG__LEVEL: 'warn' }), detached: true },
  );
  let out = '';
  let err = '';
  server.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  try {
    const base = await new Promise<string>((resolve, reject) => {
      server.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const found = /Pictor listening on (http:\/\/\S+)/.exec(out)?.[1];
        if (found !== undefined) resolve(found);
      });
      server.once('exit', (code) => reject(new Error(`exited ${code}: ${out}\n${err}`)));
    });
    assert.doesNotMatch(err, /ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING|ERR_UNKNOWN_FILE/);
    // Readiness waits for the worker to load the model: ask until it says ready or gives up.
    const deadline = Date.now() + 120_000;
    let ready: { status: number; body: string } = { status: 0, body: '' };
    while (Date.now() < deadline) {
      const response = await fetch(`${base}/v1/health/ready`);
      ready = { status: response.status, body: await response.text() };
      if (ready.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(ready.status, 200, `${ready.body}\n${err}`);
    const models = (await (await fetch(`${base}/v1/health/ready`)).json()) as {
      checks: Record<string, { status: string }>;
    };
    assert.equal(models.checks['model']?.status, 'ok');
    assert.match(out, /admin API key \(shown once; store it now\)/);
  } finally {
    // A server that already exited has nothing to stop (and its error is the one to see).
    if (server.exitCode === null && server.signalCode === null && server.pid !== undefined) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      process.kill(-server.pid, 'SIGTERM');
      await exited;
    }
  }
});
