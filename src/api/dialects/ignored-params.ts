import type { FastifyReply } from 'fastify';

/**
 * The servers whose APIs Pictor copies ignore parameters they do not know (pydantic and
 * flask-restx drop extra fields), and their clients send some. Their dialects do the same, but
 * say so: an HTTP `Warning` header (code 299, "miscellaneous persistent warning") names them.
 */
export function warnIgnoredParams(
  reply: FastifyReply,
  given: object,
  known: readonly string[],
): string[] {
  const ignored = Object.keys(given).filter((name) => !known.includes(name));
  if (ignored.length > 0) {
    const names = ignored.map((name) => name.replace(/[^\x20-\x7e]|["\\]/g, '?')).join(', ');
    void reply.header('warning', `299 pictor "ignored unknown parameter(s): ${names}"`);
  }
  return ignored;
}
