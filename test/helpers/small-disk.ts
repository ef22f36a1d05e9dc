import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A real, small filesystem (tmpfs) the test can fill; unmounted by `release`. */
export interface SmallDisk {
  readonly dir: string;
  /** Writes a filler file until the disk refuses (ENOSPC); `free()` deletes it. */
  fill(): { free(): void };
  release(): void;
}

/**
 * Mounts a `sizeMb` tmpfs, or says why it cannot (not root, no CAP_SYS_ADMIN, no tmpfs, `mount`
 * not answering): the caller skips with that reason. A real full disk, not an injected error.
 * Asynchronous, so a slow `mount` never blocks a test already running in the same process.
 */
export async function mountSmallDisk(sizeMb: number): Promise<SmallDisk | string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pictor-small-disk-'));
  try {
    await promisify(execFile)('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], {
      timeout: 15_000,
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here (${(error as Error).message.split('\n')[0]})`;
  }
  return {
    dir,
    fill() {
      const filler = path.join(dir, 'filler');
      const fd = openSync(filler, 'w');
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        for (let size = chunk.length; size >= 1; size = Math.floor(size / 2)) {
          for (;;) {
            try {
              writeSync(fd, chunk, 0, size);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return { free: () => rmSync(filler, { force: true }) };
    },
    release() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe', timeout: 15_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
