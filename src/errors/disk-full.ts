/** errno codes of a write refused for want of space: the filesystem is full, or a quota is. */
const FULL_ERRNO_CODES = new Set(['ENOSPC', 'EDQUOT']);
/** SQLite's primary result code SQLITE_FULL ("database or disk is full"). */
const SQLITE_FULL = 13;
/** PostgreSQL's SQLSTATE disk_full. */
const PG_DISK_FULL = '53100';

/**
 * Whether an error from the filesystem or a database driver means "no space left" — a condition
 * the client should hear as `507 INSUFFICIENT_STORAGE` (retry after space is freed), not as a
 * server bug with a driver's message in it.
 */
export function isDiskFull(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  if (typeof code === 'string' && (FULL_ERRNO_CODES.has(code) || code === PG_DISK_FULL))
    return true;
  // node:sqlite reports extended result codes; the low byte is the primary one.
  return typeof errcode === 'number' && (errcode & 0xff) === SQLITE_FULL;
}
