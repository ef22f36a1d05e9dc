import type { FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError } from '../errors/index.ts';
import type { Caller } from '../jobs/job-service.ts';
import { PUBLIC_TOKEN_PREFIX, SESSION_PREFIX, hashSecret, keyRefusal } from './api-key.ts';
import { KEYLESS_OWNER } from './account-ledger.ts';
import type { KeyService } from './key-service.ts';
import type { RateLimiter } from './rate-limiter.ts';
import type { UserRepository } from './user-repository.ts';

/**
 * Who may call a route: `public` (no key), `keyless` (no key needed, free and rate limited per
 * address; a key given is still checked), `user` (a login token), `account` (any valid key),
 * `generate` or `admin` (a key with that scope).
 */
export type Access = 'public' | 'keyless' | 'user' | 'account' | 'generate' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Overrides the access a route needs (see `Access`); derived from its path otherwise. */
    auth?: Access;
    /**
     * Takes a `?token=` key on every method, not only on GET links (irgolic's clients send it on
     * POST and DELETE too). Never an admin key.
     */
    queryToken?: boolean;
  }
}

export interface AuthenticatorOptions {
  readonly enabled: boolean;
  readonly keylessLink: boolean;
  readonly keylessRateLimit: number;
  readonly keylessMaxJobs: number;
  readonly keylessMaxSteps: number;
  readonly keylessMaxSize: number;
  readonly publicMetrics: boolean;
}

export interface AuthenticatorDeps {
  readonly keys: KeyService;
  readonly users: UserRepository | undefined;
  readonly limiter: RateLimiter;
}

/** Everyone is this caller when auth is disabled (local use). */
export const LOCAL_CALLER: Caller = {
  owner: 'local',
  maxPriority: 10,
  scopes: ['generate', 'admin'],
};

const PUBLIC_CALLER: Caller = { owner: KEYLESS_OWNER, maxPriority: 0, scopes: [] };

/** Dialect routes that act on the whole server (a model's memory), as `/v1/admin/…` does. */
const ADMIN_DIALECT_ROUTES: ReadonlySet<string> = new Set([
  '/sdapi/v1/unload-checkpoint',
  '/sdapi/v1/reload-checkpoint',
]);

/** The access a route needs, from its declared `config.auth` or its path. */
export function accessOf(request: FastifyRequest, o: AuthenticatorOptions): Access {
  const declared = request.routeOptions.config.auth;
  if (declared !== undefined) return declared;
  const route = request.routeOptions.url;
  // An unknown route answers 404 whoever asks.
  if (route === undefined) return 'public';
  if (
    route === '/health' ||
    route.startsWith('/v1/health/') ||
    route === '/openapi.json' ||
    route === '/docs' ||
    route.startsWith('/docs/')
  )
    return 'public';
  if (route === '/metrics') return o.publicMetrics ? 'public' : 'admin';
  if (route === '/v1/txt2img' && o.keylessLink) return 'keyless';
  if (route.startsWith('/v1/admin/') || ADMIN_DIALECT_ROUTES.has(route)) return 'admin';
  if (route.startsWith('/v1/account/')) return 'account';
  return 'generate';
}

/**
 * The secret a request presents: `Authorization: Bearer <key>`, HTTP Basic with the key as the
 * password (AUTOMATIC1111 clients; the user name is ignored, or is the key when the password is
 * empty), or — for GET links a browser opens, and on routes with `config.queryToken` — a `token`
 * query parameter (never an admin key).
 */
export function credentialOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (space > 0 && scheme === 'bearer' && value !== '') return value;
    if (space > 0 && scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon === -1 ? decoded : decoded.slice(0, colon);
      const password = colon === -1 ? '' : decoded.slice(colon + 1);
      return password !== '' ? password : user !== '' ? user : undefined;
    }
    return undefined;
  }
  const token = (request.query as Record<string, unknown> | undefined)?.['token'];
  const link = request.method === 'GET' || request.method === 'HEAD';
  if ((link || request.routeOptions.config.queryToken === true) && typeof token === 'string')
    return token;
  return undefined;
}

function unauthorized(detail: string): ProblemError {
  return new ProblemError('UNAUTHORIZED', detail, {
    headers: { 'www-authenticate': 'Bearer realm="pictor"' },
  });
}

/**
 * Builds the auth hook (`AppDeps.authenticate`): identifies the caller of every request, checks
 * its key (active, not expired, scope) and its rate limit, and sets the `RateLimit-*` headers.
 * Throws `UNAUTHORIZED`, `FORBIDDEN` or `RATE_LIMITED`.
 */
export function createAuthenticator(
  deps: AuthenticatorDeps,
  o: AuthenticatorOptions,
): (request: FastifyRequest, reply?: FastifyReply) => Promise<Caller> {
  const limit = async (
    reply: FastifyReply | undefined,
    id: string,
    perMinute: number,
  ): Promise<void> => {
    if (perMinute <= 0) return;
    const decision = await deps.limiter.take(id, perMinute);
    void reply?.headers(decision.headers);
    if (!decision.allowed) {
      throw new ProblemError(
        'RATE_LIMITED',
        `the rate limit is ${perMinute} requests per minute; retry in ${decision.retryAfter} s`,
        {
          headers: { ...decision.headers, 'retry-after': String(decision.retryAfter) },
          extensions: { retry_after: decision.retryAfter },
        },
      );
    }
  };

  return async (request, reply) => {
    const given = credentialOf(request);
    // `token` is a credential, not a parameter: keep it out of validation and handlers.
    const query = request.query as Record<string, unknown> | undefined;
    if (query && 'token' in query) delete query['token'];
    if (!o.enabled) return LOCAL_CALLER;
    const access = accessOf(request, o);
    if (access === 'public') return PUBLIC_CALLER;
    // A public token names a public session (the route reads it), not a key.
    const secret =
      access === 'keyless' && given?.startsWith(PUBLIC_TOKEN_PREFIX) ? undefined : given;
    if (secret === undefined) {
      if (access === 'keyless') {
        await limit(reply, `ip:${request.ip}`, o.keylessRateLimit);
        return {
          ...PUBLIC_CALLER,
          scopes: ['generate'],
          maxJobs: o.keylessMaxJobs,
          limits: {
            maxSteps: o.keylessMaxSteps,
            maxSide: o.keylessMaxSize,
            maxImages: 1,
            webhooks: false,
          },
        };
      }
      throw unauthorized(
        'an API key is required: send Authorization: Bearer <key> (or HTTP Basic with the key as the password)',
      );
    }
    if (secret.startsWith(SESSION_PREFIX)) {
      const session =
        access === 'user'
          ? await deps.users?.getSession(hashSecret(secret), Date.now())
          : undefined;
      if (!session) {
        throw unauthorized(
          access === 'user'
            ? 'the login token is invalid or expired; log in again'
            : 'a login token only manages keys (/v1/account/keys); use an API key here',
        );
      }
      return {
        owner: `user:${session.userId}`,
        maxPriority: 0,
        scopes: [],
        userId: session.userId,
      };
    }
    if (access === 'user') throw unauthorized('this route needs a login token from /v1/auth/login');
    const key = await deps.keys.bySecret(secret);
    if (!key) throw unauthorized('invalid API key');
    const refusal = keyRefusal(key, Date.now());
    if (refusal) throw unauthorized(refusal);
    // A URL ends up in access logs, proxies and browser history: never an admin key there.
    if (request.headers.authorization === undefined && key.scopes.includes('admin')) {
      throw unauthorized(
        'an admin key is never accepted in a URL (?token=); send it as Authorization: Bearer <key>',
      );
    }
    await limit(reply, key.id, key.rateLimit);
    const needed = access === 'admin' ? 'admin' : access === 'account' ? undefined : 'generate';
    if (needed !== undefined && !key.scopes.includes(needed)) {
      throw new ProblemError('FORBIDDEN', `this key lacks the '${needed}' scope`, {
        extensions: { required_scope: needed },
      });
    }
    return {
      owner: key.id,
      maxPriority: key.priority,
      maxJobs: key.maxJobs,
      scopes: key.scopes,
    };
  };
}
