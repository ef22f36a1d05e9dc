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
