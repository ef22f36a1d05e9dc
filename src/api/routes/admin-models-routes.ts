import type { FastifyInstance } from 'fastify';
import { jsonResponse } from '../documented-errors.ts';
import { libraryModelSchema, listResponse, openObject, pullSchema } from '../admin-schemas.ts';

const pullResponse = jsonResponse('The pull', pullSchema);
import { ProblemError } from '../../errors/index.ts';
import type { LibraryModel } from '../../library/library-model.ts';
import type { ModelLibrary } from '../../library/model-library.ts';
import type { Pull } from '../../library/model-pulls.ts';
import type { PullEvent, PullView } from '../../library/pull-event.ts';

const tags = ['admin'];
const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', maxLength: 64 } },
};
const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 64 } },
};

function pullView(view: PullView): Record<string, unknown> {
  return {
    pull_id: view.id,
    source: view.source,
    model: view.model ?? null,
    state: view.state,
    total: view.total,
    completed: view.completed,
    error: view.error ?? null,
    events_url: `/v1/admin/models/pulls/${view.id}/events`,
  };
}

export function libraryModelView(m: LibraryModel): Record<string, unknown> {
  return {
    name: m.name,
    format: m.format,
    source: m.source ?? null,
    family_hint: m.family ?? null,
    size_bytes: m.sizeBytes,
    path: m.path,
    removable: m.origin === 'library',
  };
}

function pullOf(library: ModelLibrary, id: string): Pull {
  const pull = library.pulls.get(id);
  if (!pull)
    throw new ProblemError(
      'PULL_NOT_FOUND',
      `no pull ${id} (finished pulls are kept for 10 minutes)`,
    );
  return pull;
}

/**
 * `/v1/admin/models`: pull a model (202 with a pull id; progress as Server-Sent Events in
 * Ollama's `status`/`total`/`completed` shape), cancel a pull, remove or rescan models.
 */
export function adminModelsRoutes(app: FastifyInstance, library: ModelLibrary): void {
  app.get(
    '/v1/admin/models',
    {
      schema: {
        tags,
        summary: 'The library: every model on disk (removable or configured) and the pulls running',
        response: {
          200: listResponse('The library', libraryModelSchema, {
            pulls: { type: 'array', items: pullSchema },
          }),
        },
      },
    },
    () => ({
      data: library.list().map(libraryModelView),
      pulls: library.pulls.running().map((pull) => pullView(pull.view())),
    }),
  );

  app.post<{ Body: { source: string; name?: string; revision?: string } }>(
    '/v1/admin/models',
    {
      schema: {
        tags,
        summary:
          'Pull a model: hf:org/repo[@rev][/sub], civitai:ID[@VERSION], a URL or a server path',
        body: {
          type: 'object',
          required: ['source'],
          additionalProperties: false,
          properties: {
            source: { type: 'string', minLength: 1, maxLength: 2048 },
            name: { type: 'string', minLength: 1, maxLength: 64 },
            revision: { type: 'string', minLength: 1, maxLength: 256 },
          },
        },
        response: { 202: pullResponse },
      },
    },
    async (request, reply) => {
      const { source, name, revision } = request.body;
      const pull = library.pull(source, { name, revision });
      return reply
        .status(202)
        .header('location', `/v1/admin/models/pulls/${pull.id}`)
        .send(pullView(pull.view()));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/admin/models/pulls/:id',
    {
      schema: {
        tags,
        summary: 'A pull and its progress',
        params: idParams,
        response: { 200: pullResponse },
      },
    },
    (request) => pullView(pullOf(library, request.params.id).view()),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/admin/models/pulls/:id/events',
    {
      schema: {
        tags,
        summary: 'A pull as Server-Sent Events, ending after success or error',
        params: idParams,
        response: {
          200: {
            description: "`data: {status, total?, completed?, error?}` per event, Ollama's shape",
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
        },
      },
    },
    (request, reply) => {
      const pull = pullOf(library, request.params.id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-request-id': request.id,
      });
      let unsubscribe = (): void => undefined;
      let ended = false;
      const write = (event: PullEvent): void => {
        if (ended) return;
        res.write(`data: ${JSON.stringify(event)}\n\n`);
        if (event.status === 'success' || event.status === 'error') {
          ended = true;
          queueMicrotask(() => unsubscribe());
          res.end();
        }
      };
      unsubscribe = pull.subscribe(write);
      res.on('close', () => unsubscribe());
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/admin/models/pulls/:id',
    {
      schema: {
        tags,
        summary: 'Cancel a pull (downloaded data is kept for the next try)',
        params: idParams,
        response: { 202: pullResponse },
      },
    },
    (request, reply) => {
      const pull = pullOf(library, request.params.id);
      library.pulls.cancel(pull.id);
      return reply.status(202).send(pullView(pull.view()));
    },
  );

  app.post(
    '/v1/admin/models/scan',
    {
      schema: {
        tags,
        summary: 'Look for models in the models folders again',
        response: { 200: listResponse('The library after the scan', libraryModelSchema) },
      },
    },
    async () => ({ data: (await library.scan()).map(libraryModelView) }),
  );

  app.delete<{ Params: { name: string } }>(
    '/v1/admin/models/:name',
    {
      schema: {
        tags,
        summary: 'Remove a library model and free its disk; refused while jobs use it',
        params: nameParams,
        response: {
          200: jsonResponse('Removed', openObject({ deleted: libraryModelSchema }, ['deleted'])),
        },
      },
    },
    async (request) => ({ deleted: libraryModelView(await library.remove(request.params.name)) }),
  );
}
