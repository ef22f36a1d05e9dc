import { createRequire } from 'node:module';
import type { SonicBoom } from 'sonic-boom';

/** What `log-stream.ts` passes: pino-roll's options. */
interface LogFileOptions {
  readonly file: string;
  readonly extension: string;
  readonly size: string;
  readonly limit: { readonly count: number };
  readonly mkdir: boolean;
}

// pino-roll ships no types: its default export builds a SonicBoom over the numbered file.
const pinoRoll = createRequire(import.meta.url)('pino-roll') as (
  options: LogFileOptions & { maxLength: number },
) => Promise<SonicBoom>;

/** Lines held in memory while the disk refuses them; beyond this, new lines are dropped. */
const MAX_PENDING_BYTES = 1024 * 1024;

/**
 * pino transport target (runs in pino's logging thread): pino-roll's rolling log file, made
 * unable to take the server down. An unhandled write error (ENOSPC on a full disk, EIO) would
 * end the logging thread and, with it, standard-output logging and the process; here it is
 * reported once on standard error, the unwritten lines wait (up to 1 MB, then new ones are
 * dropped), and the next line logged tries the disk again.
 */
export default async function logFileTarget(options: LogFileOptions): Promise<SonicBoom> {
  const stream = await pinoRoll({ ...options, maxLength: MAX_PENDING_BYTES });
  let failing = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (failing) return;
    failing = true;
    process.stderr.write(
      `pictor: cannot write the log file (${error.code ?? error.message}); ` +
        'logging to standard output only until it can\n',
    );
  });
  stream.on('write', () => {
    if (!failing) return;
    failing = false;
    process.stderr.write('pictor: the log file is written again\n');
  });
  return stream;
}
