// `/openapi.json` describes what a client needs: the health routes, the Prometheus metrics, the
// WebSockets (which @fastify/websocket hides from the generated document), and responses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPictor, testConfig } from '../helpers/pictor.ts';

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

test('the OpenAPI document has /health, /metrics, the WebSockets and response schemas', async () => {
  const pictor = await startPictor(testConfig(), 5);
  try {
    const spec = (await pictor.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, Operation>>;
    }>();
    const op = (path: string, method = 'get'): Operation => {
      const found = spec.paths[path]?.[method];
      assert.ok(found, `${method.toUpperCase()} ${path} is documented`);
      return found;
    };
    const schemaOf = (operation: Operation, status: string) =>
      Object.values(operation.responses?.[status]?.content ?? {})[0]?.schema;
    const redoc = await pictor.app.inject({ method: 'GET', url: '/redoc' });
    assert.equal(redoc.statusCode, 302, 'the SD 3.5 API README links /redoc');
    assert.equal(redoc.headers.location, '/docs');
    assert.ok(schemaOf(op('/health'), '200'));
    assert.ok(schemaOf(op('/metrics'), '200'));
    assert.ok(
      'text/plain; version=0.0.4' in (op('/metrics').responses?.['200']?.content ?? {}),
      'metrics are Prometheus text',
    );
    for (const socket of ['/v1/events', '/events'])
      assert.ok(schemaOf(op(socket), '101'), `${socket}: its messages are described`);
    const ready = JSON.stringify(schemaOf(op('/v1/health/ready'), '2XX'));
    assert.match(ready, /execution_providers/);
    for (const [path, method] of [
      ['/txt2img', 'get'],
      ['/task', 'post'],
      ['/task/{task_id}', 'get'],
      ['/blob', 'post'],
      ['/token/all', 'post'],
    ] as const)
      assert.ok(schemaOf(op(path, method), '200'), `${method} ${path} has a response schema`);
  } finally {
    await pictor.stop();
  }
});

interface Response {
  description?: string;
  content?: Record<string, { schema?: unknown }>;
}

test('every documented route has a 2xx response schema and an error response in its API’s shape', async () => {
  const pictor = await startPictor(
    testConfig({
      PICTOR_AUTH__ENABLED: 'true',
      PICTOR_AUTH__SIGNUP: 'true',
      PICTOR_ADMIN_KEY: `sk_test_admin_${'0'.repeat(40)}`,
    }),
    5,
  );
  try {
    const spec = (await pictor.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, { responses?: Record<string, Response> }>>;
    }>();
    const problems: string[] = [];
    let routes = 0;
    for (const [path, operations] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        routes++;
        const name = `${method.toUpperCase()} ${path}`;
        const responses = Object.entries(operation.responses ?? {});
        const success = responses.filter(([status]) => /^(2|101)/.test(status));
        if (success.length === 0) problems.push(`${name}: no 2xx response`);
        for (const [status, response] of success) {
          // @fastify/swagger writes `Default Response` for a route that declared nothing.
          const bodies = Object.values(response.content ?? {});
          const documentedEmpty =
            bodies.length === 0 && response.description !== 'Default Response';
          if (!documentedEmpty && !bodies.some((body) => body.schema !== undefined))
            problems.push(`${name}: ${status} has no schema`);
        }
        const errors = responses.filter(([status]) => /^[45]/.test(status));
        if (errors.length === 0) problems.push(`${name}: no error response`);
        else if (!errors.some(([, r]) => Object.values(r.content ?? {}).some((c) => c.schema)))
          // The WebSockets' 401 is the HTTP refusal of the upgrade: described, no body schema.
          if (!['/v1/events', '/events'].includes(path))
            problems.push(`${name}: errors have no schema`);
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(routes > 80, `${routes} routes walked`);

    // Each API answers errors in its own shape, and the document says which.
    const errorSchema = (path: string, method = 'post') =>
      JSON.stringify(spec.paths[path]?.[method]?.responses?.['4XX']?.content);
    assert.match(errorSchema('/v1/jobs'), /application\/problem\+json/);
    assert.match(errorSchema('/v1/admin/keys'), /application\/problem\+json/);
    assert.match(errorSchema('/v1/images/generations'), /"error"/);
    assert.match(errorSchema('/sdapi/v1/txt2img'), /"errors"/);
    assert.match(errorSchema('/api/generate'), /"message"/);
    assert.match(errorSchema('/generate/{model_name}'), /"detail"/);
    assert.match(errorSchema('/task'), /"detail"/);
    assert.doesNotMatch(errorSchema('/task'), /problem\+json/);
  } finally {
    await pictor.stop();
  }
});
