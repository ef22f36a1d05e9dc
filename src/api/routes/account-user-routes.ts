import type { FastifyInstance } from 'fastify';
import { jsonResponse } from '../documented-errors.ts';
import { keyResponse, keySchema, listResponse, openObject } from '../admin-schemas.ts';
import type { AccountsApi } from '../../accounts/accounts-api.ts';
import { keyView } from '../../accounts/key-fields.ts';
import { ProblemError } from '../../errors/index.ts';

const credentials = {
  type: 'object',
  required: ['username', 'password'],
  additionalProperties: false,
  properties: { username: { type: 'string' }, password: { type: 'string' } },
} as const;

/**
 * End-user sign-up (`auth.signup`): `/v1/auth/signup|login|logout`, and with a login token
 * `/v1/account/keys` to list, create and deactivate one's own keys. Users' keys start with no
 * credits and the generate scope only; an admin grants credits.
 */
export function accountUserRoutes(app: FastifyInstance, accounts: AccountsApi): void {
  const users = accounts.users;
  if (!users) return;
  const tags = ['account'];
  const slowDown = async (ip: string): Promise<void> => {
    const decision = await accounts.limiter.take(`login:${ip}`, 10);
    if (!decision.allowed) {
      throw new ProblemError(
        'RATE_LIMITED',
        `too many attempts; retry in ${decision.retryAfter} s`,
        {
          headers: { ...decision.headers, 'retry-after': String(decision.retryAfter) },
        },
      );
    }
  };

  app.post<{ Body: { username: string; password: string } }>(
    '/v1/auth/signup',
    {
      config: { auth: 'public' },
      schema: {
        tags,
        summary: 'Create a user',
        body: credentials,
        response: {
          201: jsonResponse(
            'The user',
            openObject(
              {
                id: { type: 'string' },
                username: { type: 'string' },
                created_at: { type: 'string', format: 'date-time' },
              },
              ['id', 'username'],
            ),
          ),
        },
      },
    },
    async (request, reply) => {
      await slowDown(request.ip);
      const user = await users.signup(request.body.username, request.body.password);
      return reply.status(201).send({
        id: user.id,
        username: user.username,
        created_at: new Date(user.createdAt).toISOString(),
      });
    },
  );

  app.post<{ Body: { username: string; password: string } }>(
    '/v1/auth/login',
    {
      config: { auth: 'public' },
      schema: {
        tags,
        summary: 'A short-lived login token (`ut_…`)',
        body: credentials,
        response: {
          200: jsonResponse(
            'The login token',
            openObject(
              {
                token: { type: 'string' },
                token_type: { type: 'string', enum: ['Bearer'] },
                expires_at: { type: 'string', format: 'date-time' },
              },
              ['token', 'token_type', 'expires_at'],
            ),
          ),
        },
      },
    },
    async (request) => {
      await slowDown(request.ip);
      const { token, expiresAt } = await users.login(request.body.username, request.body.password);
      return { token, token_type: 'Bearer', expires_at: new Date(expiresAt).toISOString() };
    },
  );

  app.post(
    '/v1/auth/logout',
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'End the login token',
        response: { 204: { description: 'Logged out' } },
      },
    },
    async (request, reply) => {
      const header = request.headers.authorization ?? '';
      await users.logout(header.slice(header.indexOf(' ') + 1).trim());
      return reply.status(204).send();
    },
  );

  const userId = (caller: { userId?: string }): string => caller.userId ?? '';

  app.get(
    '/v1/account/keys',
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: "The user's keys",
        response: { 200: listResponse('Keys', keySchema) },
      },
    },
    async (request) => ({
      data: (
        await accounts.keys.list({
          limit: accounts.maxKeysPerUser * 10,
          userId: userId(request.caller),
        })
      ).map(keyView),
    }),
  );

  app.post<{ Body: { name: string } }>(
    '/v1/account/keys',
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Create a key for the user; the secret is in this response only',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 100 } },
        },
        response: { 201: jsonResponse('Created; `key` is the secret, shown this once', keySchema) },
      },
    },
    async (request, reply) => {
      const id = userId(request.caller);
      const active = await accounts.keys.count({ userId: id, activeOnly: true });
      if (active >= accounts.maxKeysPerUser) {
        throw new ProblemError(
          'FORBIDDEN',
          `a user may hold ${accounts.maxKeysPerUser} active keys; deactivate one first`,
        );
      }
      const { key, secret } = await accounts.keys.create(
        { name: request.body.name, scopes: ['generate'] },
        { userId: id },
      );
      return reply.status(201).send({ ...keyView(key), key: secret });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/account/keys/:id',
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: "Deactivate one of the user's keys",
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: keyResponse },
      },
    },
    async (request) => {
      const key = await accounts.keys.get(request.params.id);
      if (key.userId !== userId(request.caller))
        throw new ProblemError('KEY_NOT_FOUND', `no API key '${request.params.id}'`);
      return keyView(await accounts.keys.deactivate(key.id));
    },
  );
}
