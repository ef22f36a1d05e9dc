import { Redis, type RedisOptions } from 'ioredis';

/**
 * The ioredis client every Redis adapter uses: connects on its first command, bounds each command
 * by `timeoutMs` ({@link commandTimeout}), and reports failures in the commands that fail — its
 * 'error' events have a listener, since an unhandled one would end the process.
 */
export function redisClient(
  url: string,
  options: { readonly timeoutMs?: number | undefined } & Pick<
    RedisOptions,
    'maxRetriesPerRequest'
  > = {},
): Redis {
  const { timeoutMs, maxRetriesPerRequest } = options;
  const redis = new Redis(url, {
    lazyConnect: true,
    ...(maxRetriesPerRequest === undefined ? {} : { maxRetriesPerRequest }),
    ...commandTimeout(timeoutMs),
  });
  redis.on('error', () => undefined);
  return redis;
}

/**
 * ioredis's option bounding each command by `timeoutMs`. A command sent while Redis is
 * unreachable waits in ioredis's offline queue for a reconnect, without end where retries are
 * unlimited (BullMQ needs that); the timeout also runs while it waits there, so the caller
 * learns within `timeoutMs` that Redis is gone ({@link isRedisUnavailable}).
 */
export function commandTimeout(
  timeoutMs: number | undefined,
): Pick<RedisOptions, 'commandTimeout'> {
  return timeoutMs === undefined ? {} : { commandTimeout: timeoutMs };
}

/** ioredis's messages for a command that Redis did not answer because it is out of reach. */
const UNAVAILABLE = [
  /^Command timed out/,
  /^Connection is closed/,
  /^Reached the max retries per request limit/,
  /^Stream isn't writeable/,
];

/**
 * Whether an error from ioredis (or BullMQ over it) means Redis cannot be reached right now —
 * a command timed out, the connection closed, the retries ran out — rather than a bad command.
 * Such errors are temporary: callers answer 503 and ioredis reconnects for the next request.
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' || UNAVAILABLE.some((re) => re.test(error.message))
  );
}
