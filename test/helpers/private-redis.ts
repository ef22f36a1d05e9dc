import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A `redis-server` of a test's own, which it may kill and wipe (the shared one never is). */
export interface PrivateRedis {
  readonly url: string;
  /** Kills it (-9) and starts it again, empty, on the same port: Redis lost its data. */
  restartEmpty(): Promise<void>;
  /** Kills it (-9): Redis is unreachable until {@link start}. */
  stop(): Promise<void>;
  /** Starts it again after {@link stop}, empty, on the same port. */
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `redis-server` without persistence; resolves once it accepts connections. */
function launch(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) resolve(child);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** A private Redis on a free port; a string saying why not when `redis-server` is missing. */
export async function startPrivateRedis(): Promise<PrivateRedis | string> {
  const port = await freePort();
  let child: ChildProcess;
  try {
    child = await launch(port);
  } catch (error) {
    return `redis-server could not start: ${(error as Error).message}`;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async restartEmpty() {
      await kill(child);
      child = await launch(port);
    },
    stop: () => kill(child),
    async start() {
      child = await launch(port);
    },
  };
}
