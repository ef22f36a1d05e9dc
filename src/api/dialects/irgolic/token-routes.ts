import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PUBLIC_TOKEN_PREFIX } from '../../../accounts/api-key.ts';
import type { AccountsApi } from '../../../accounts/accounts-api.ts';
import type { PictorConfig } from '../../../config/index.ts';
import { ProblemError } from '../../../errors/index.ts';

const tags = ['stable-diffusion-api'];
/** The name of the keys `POST /token` hands out, so later logins can find and retire them. */
const TOKEN_KEY_NAME = 'stable-diffusion-api token';

const authToken = {
  type: 'object',
  properties: { access_token: { type: 'string' }, token_type: { type: 'string' } },
} as const;

const refused = (): ProblemError =>
  new ProblemError('UNAUTHORIZED', 'Could not validate credentials', {
    headers: { 'www-authenticate': 'Bearer' },
  });

/** A field from the form or JSON body, else the query (irgolic takes `password` there). */
function field(request: FastifyRequest, name: string): string | undefined {
  for (const source of [request.body, request.query]) {
    const value = (source as Record<string, unknown> | undefined)?.[name];
    if (typeof value === 'string') return value;
  }
  return undefined;
}

/**
 * irgolic's tokens and users. `POST /token/all` (with `irgolic.publicAccess`, or without auth) →
 * a public token naming a session. With `auth.signup`: `POST /user/{username}?password=` (or
 * `POST /user` with `username` and `password`) signs up; `POST /token` (OAuth2 password form) or
 * `POST /token/{username}` → an API key of the user's that expires after
 * `auth.sessionTtlSeconds`, like irgolic's JWTs; a user's older such keys are retired when the
 * user's key limit is reached.
 */
export function tokenRoutes(
  app: FastifyInstance,
  config: PictorConfig,
  accounts: AccountsApi | undefined,
): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  const open = { config: { auth: 'public' as const } };

  app.post(
    '/token/all',
    {
      ...open,
      schema: {
        tags,
        summary: 'A public token (public access only)',
        response: { 200: authToken },
      },
    },
    () => {
      if (config.auth.enabled && !config.irgolic.publicAccess)
        throw new ProblemError('FORBIDDEN', 'Public token is disabled');
      return {
        access_token: `${PUBLIC_TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`,
        token_type: 'bearer',
      };
    },
  );

  const users = (): NonNullable<AccountsApi['users']> => {
    const found = config.auth.signup ? accounts?.users : undefined;
    if (!found) throw new ProblemError('FORBIDDEN', 'Signup is disabled');
    return found;
  };

  const signedUp = {
    type: 'object',
    additionalProperties: true,
    required: ['username'],
    properties: { username: { type: 'string' } },
  } as const;
  const signup = async (username: string | undefined, password: string | undefined) => {
    const user = await users().signup(username, password);
    return { username: user.username };
  };
  app.post<{ Params: { username: string } }>(
    '/user/:username',
    {
      ...open,
      schema: {
        tags,
        summary: 'Sign up (password in the query or body)',
        response: { 200: signedUp },
      },
    },
    (request) => signup(request.params.username, field(request, 'password')),
  );
  app.post(
    '/user',
    {
      ...open,
      schema: {
        tags,
        summary: 'Sign up (username and password in the body)',
        response: { 200: signedUp },
      },
    },
    (request) => signup(field(request, 'username'), field(request, 'password')),
  );

  const login = async (username: string | undefined, password: string | undefined) => {
    const user = await users()
      .verify(username, password)
      .catch(() => {
        throw refused();
      });
    const keys = accounts?.keys;
    if (!keys) throw refused();
    const now = Date.now();
    const max = accounts?.maxKeysPerUser ?? 1;
    const held = (await keys.list({ limit: 1000, userId: user.id })).filter((key) => key.active);
    const tokens = held.filter((key) => key.name === TOKEN_KEY_NAME);
    const expired = (key: (typeof held)[number]) => key.expiresAt !== null && key.expiresAt <= now;
    // Expired tokens go; then the oldest live ones while the user is at the key limit.
    const retire = tokens.filter(expired);
    const live = tokens.filter((key) => !expired(key));
    while (held.length - retire.length >= max && live.length > 0) retire.push(live.shift()!);
    for (const key of retire) await keys.deactivate(key.id);
    if (held.length - retire.length >= max)
      throw new ProblemError(
        'FORBIDDEN',
        `a user may hold ${max} active keys; deactivate one first`,
      );
    const { secret } = await keys.create(
      {
        name: TOKEN_KEY_NAME,
        scopes: ['generate'],
        expiresAt: now + config.auth.sessionTtlSeconds * 1000,
      },
      { userId: user.id },
    );
    return { access_token: secret, token_type: 'bearer' };
  };
  app.post(
    '/token',
    {
      ...open,
      schema: {
        tags,
        summary: 'A token for a user (OAuth2 password form)',
        response: { 200: authToken },
      },
    },
    (request) => login(field(request, 'username'), field(request, 'password')),
  );
  app.post<{ Params: { username: string } }>(
    '/token/:username',
    {
      ...open,
      schema: {
        tags,
        summary: 'A token for a user (the password in the body or query)',
        response: { 200: authToken },
      },
    },
    (request) => login(request.params.username, field(request, 'password')),
  );
}
