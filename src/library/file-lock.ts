import { open, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 250;

/** The process named in a lock file still runs (on this machine). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `work` holding `FILE.lock`, a file created exclusively with this process's id, so two
 * Pictor processes (the server and a `pictor models pull`) never append to the same partial file.
 * A lock whose process is gone (a crash) is taken over. While another process holds it, this one
 * waits — there is no event to wait on across processes, so it looks again every 250 ms.
 */
export async function withFileLock<T>(
  file: string,
  signal: AbortSignal,
  work: () => Promise<T>,
): Promise<T> {
  const lock = `${file}.lock`;
  for (;;) {
    signal.throwIfAborted();
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
      await sleep(POLL_MS, undefined, { signal });
    } else {
      await rm(lock, { force: true });
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}
