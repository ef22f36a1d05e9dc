import type { Stats } from 'node:fs';

/**
 * The expiry of a blob file, or `undefined` for one kept until deleted.
 *
 * A blob with an expiry gets it as its modification time, set after its bytes are written. The
 * kernel moves the change time to "now" on that same call (and again on the rename into place),
 * so only such a file has a modification time later than its change time: a plain write sets
 * both to the same instant, and every later metadata change only moves the change time forward.
 * That one comparison tells the two kinds apart without an index or a side file. (A file whose
 * metadata an operator changes after its expiry counts as kept; the job sweeper still removes it.)
 */
export function expiryOf(stats: Stats | undefined): number | undefined {
  if (stats === undefined || stats.mtimeMs <= stats.ctimeMs) return undefined;
  return stats.mtimeMs;
}
