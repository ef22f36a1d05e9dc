// `scripts/cluster-up`: the docker-compose cluster topology as plain local processes — API nodes
// (`pictor api`), worker nodes (`pictor worker`), on the PostgreSQL and Redis already running
// here, with blobs in PostgreSQL or in an S3 server (s3rver, started in this process). What tests
// and benches use. Ctrl-C (or SIGTERM) stops every process it started.
//
//   scripts/cluster-up [--api 2] [--workers 2] [--blobs postgres|s3] [--port 8081]
//                      [--database postgres://postgres@127.0.0.1:5432/pictor_cluster]
//                      [--redis redis://127.0.0.1:6379/1] [--data-dir .cluster] [--state FILE]
//                      [-- any pictor flag for every node, e.g. --workers.engine=fake]
//
// `--state FILE` writes {apis: [{url, pid}], workers: [{pid}], s3} once every API is ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    api: { type: 'string', default: '2' },
    workers: { type: 'string', default: '2' },
    blobs: { type: 'string', default: 'postgres' },
    port: { type: 'string', default: '8081' },
    database: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/pictor_cluster' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379/1' },
    'data-dir': { type: 'string', default: '.cluster' },
    state: { type: 'string' },
  },
});
const root = path.resolve(import.meta.dirname, '..', '..');
const dataDir = path.resolve(values['data-dir']);
const apiCount = Number(values.api);
const workerCount = Number(values.workers);
const firstPort = Number(values.port);
if (values.blobs !== 'postgres' && values.blobs !== 's3') throw new Error('--blobs postgres|s3');

/** The database named in the URL, created when missing (the server creates its tables). */
async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = target.pathname.slice(1);
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name}: [a-z0-9_] only`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}

/** An S3 server for the blobs (s3rver, a dev dependency), with the bucket made. */
async function startS3(): Promise<{ env: Record<string, string>; close: () => Promise<void> }> {
  const { default: S3rver } = await import('s3rver');
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const directory = path.join(dataDir, 's3');
  mkdirSync(directory, { recursive: true });
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  await client.send(new CreateBucketCommand({ Bucket: 'pictor-cluster' })).catch(() => undefined);
  client.destroy();
  return {
    env: {
      PICTOR_STORAGE__BLOBS: 's3',
      PICTOR_STORAGE__S3__BUCKET: 'pictor-cluster',
      PICTOR_STORAGE__S3__ENDPOINT: endpoint,
      PICTOR_STORAGE__S3__FORCE_PATH_STYLE: 'true',
      PICTOR_STORAGE__S3__ACCESS_KEY_ID: credentials.accessKeyId,
      PICTOR_STORAGE__S3__SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    close: () => server.close(),
  };
}

const children: ChildProcess[] = [];

/** Starts `pictor <role>` with its output prefixed by `name`. */
function start(name: string, role: 'api' | 'worker', env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [path.join(root, 'bin/pictor.js'), role, ...positionals], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (chunk: Buffer): string =>
    chunk
      .toString()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => `[${name}] ${line}\n`)
      .join('');
  child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(prefix(chunk)));
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(prefix(chunk)));
  child.on('exit', (code, signal) => console.log(`[${name}] exited (${signal ?? code})`));
  children.push(child);
  return child;
}

async function waitReady(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: the node exited before it was ready`);
    const ok = await fetch(`${url}/v1/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url}: not ready within ${timeoutMs / 1000} s`);
}

await ensureDatabase(values.database);
const s3 = values.blobs === 's3' ? await startS3() : undefined;
const shared: Record<string, string> = {
  PICTOR_DATABASE__DRIVER: 'postgres',
  PICTOR_DATABASE__URL: values.database,
  PICTOR_REDIS__URL: values.redis,
  PICTOR_STORAGE__BLOBS: 'postgres',
  // Every node signs alike; a local try-out's values, as in docker-compose.yml.
  PICTOR_WEBHOOKS__SECRET: 'whsec_cGljdG9yLWxvY2FsLXRyeS1vdXQtc2VjcmV0',
  PICTOR_LINKS__SECRET: 'pictor-local-link-secret',
  ...(s3?.env ?? {}),
};

const stop = async (): Promise<void> => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  const running = children.filter((child) => child.exitCode === null);
  await Promise.all(running.map((child) => new Promise((done) => child.once('exit', done))));
  await s3?.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());

const apis = Array.from({ length: apiCount }, (_, i) => {
  const port = firstPort + i;
  const name = `api-${i + 1}`;
  const child = start(name, 'api', {
    ...shared,
    PICTOR_DATA_DIR: path.join(dataDir, name),
    PICTOR_SERVER__PORT: String(port),
  });
  return { name, url: `http://127.0.0.1:${port}`, child };
});
const workers = Array.from({ length: workerCount }, (_, i) => {
  const name = `worker-${i + 1}`;
  // A worker's health port sits above the APIs'.
  const port = firstPort + apiCount + i;
  return {
    name,
    child: start(name, 'worker', {
      ...shared,
      PICTOR_DATA_DIR: path.join(dataDir, name),
      PICTOR_SERVER__PORT: String(port),
    }),
  };
});
try {
  await Promise.all(apis.map((api) => waitReady(api.url, api.child)));
} catch (error) {
  console.error((error as Error).message);
  await stop();
}
console.log(`cluster ready: ${apis.map((a) => a.url).join(', ')}; ${workers.length} worker(s)`);
if (values.state !== undefined) {
  const state = {
    apis: apis.map((a) => ({ name: a.name, url: a.url, pid: a.child.pid })),
    workers: workers.map((w) => ({ name: w.name, pid: w.child.pid })),
    s3: s3 === undefined ? undefined : shared['PICTOR_STORAGE__S3__ENDPOINT'],
  };
  writeFileSync(values.state, `${JSON.stringify(state, null, 2)}\n`);
}
