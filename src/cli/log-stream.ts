import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type DestinationStream } from 'pino';
import type { PictorConfig } from '../config/index.ts';

/**
 * Where the server's logs go: standard output and, unless `log.file` is empty, a file under the
 * data dir that pino-roll rolls over by size. Both are written from pino's transport thread, so
 * the API's event loop never waits on a log write.
 */
export function logStream(log: PictorConfig['log']): DestinationStream | undefined {
  if (log.file === '') return undefined;
  const stream = pino.transport({
    targets: [
      { target: 'pino/file', options: { destination: 1 }, level: log.level },
      {
        // pino-roll, with write failures (a full disk) survived: see log-file-target.ts.
        target: fileURLToPath(new URL('./log-file-target.ts', import.meta.url)),
        level: log.level,
        options: {
          // pino-roll numbers the files: logs/pictor.log → logs/pictor.1.log, pictor.2.log, …
          file: log.file.slice(0, -path.extname(log.file).length),
          extension: '.log',
          size: `${log.fileMaxSizeMb}m`,
          limit: { count: log.fileKeep },
          mkdir: true,
        },
      },
    ],
  });
  // Should the logging thread die anyway, logs stop but the server goes on: an 'error' event
  // with no listener would end the process.
  let reported = false;
  stream.on('error', (error: Error) => {
    if (reported) return;
    reported = true;
    process.stderr.write(`pictor: logging stopped: ${error.message}
`);
  });
  return stream;
}
