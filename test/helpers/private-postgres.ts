import { execFile } from 'node:child_process';
import { chownSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

/** A PostgreSQL server of a test's own (the shared one is never stopped or filled). */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:port/postgres` (trust auth). */
  readonly url: string;
  /** Stops it at once (no checkpoint: its files are thrown away). */
  stop(): Promise<void>;
  /** Starts it again after {@link stop}, on the same port and files (crash recovery). */
  restart(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * `initdb` and `pg_ctl start` in `dir` (created), run as the `postgres` system user because
 * PostgreSQL refuses to run as root; or why that is not possible here (the caller skips). Small
 * WAL segments and buffers keep the whole cluster near 30 MB, so it fits a small tmpfs.
 */
export async function startPrivatePostgres(dir: string): Promise<PrivatePostgres | string> {
  const data = path.join(dir, 'data');
  const asPostgres = (command: string, args: string[]) =>
    run('runuser', ['-u', 'postgres', '--', path.join(BIN, command), ...args], {
      timeout: 60_000,
    });
  try {
    const { stdout } = await run('id', ['-u', 'postgres']);
    chownSync(dir, Number(stdout.trim()), -1);
    await asPostgres('initdb', [
      '-D',
      data,
      '--wal-segsize=1',
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
    ]);
  } catch (error) {
    return `cannot create a private PostgreSQL here (${(error as Error).message.split('\n')[0]})`;
  }
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c shared_buffers=8MB',
    '-c min_wal_size=2MB',
    '-c max_wal_size=8MB',
  ].join(' ');
  const start = async (): Promise<void> => {
    await asPostgres('pg_ctl', [
      '-D',
      data,
      '-w',
      '-l',
      path.join(dir, 'server.log'),
      '-o',
      options,
      'start',
    ]);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
    },
    restart: start,
  };
}
