import { isDeepStrictEqual } from 'node:util';
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Checks every answer of a real server against its route's documented response (the route's
 * `schema.response`, what `/openapi.json` publishes): its status and content type are documented,
 * its JSON body validates against the schema, and the body sent is the handler's value unchanged
 * (a response schema never drops or coerces a field). Attach before the app is ready.
 */
export interface ResponseAudit {
  /** One line per answer that did not match its documentation. */
  readonly failures: readonly string[];
  /** How many answers were checked. */
  readonly checked: number;
}

type Validate = ((data: unknown) => boolean) & { errors?: unknown };

const compile = AjvCompiler()(
  {},
  {
    // Validation only reads: no coercion, no defaults, nothing removed; OpenAPI's `binary`
    // format and annotation keywords are accepted.
    customOptions: {
      strict: false,
      coerceTypes: false,
      useDefaults: false,
      removeAdditional: false,
      allErrors: true,
      formats: { binary: true },
    },
  },
);
const validators = new WeakMap<object, Validate>();

function validatorOf(schema: object): Validate {
  let validate = validators.get(schema);
  if (!validate) {
    validate = compile({ schema, method: 'GET', url: '/', httpPart: 'body' }) as Validate;
    validators.set(schema, validate);
  }
  return validate;
}

interface Entry {
  readonly content?: Record<string, { schema?: object }>;
  readonly [keyword: string]: unknown;
}

/** The documented entry for a status: exact, then `4xx`-style, then `default`. */
function entryOf(responses: Record<string, Entry>, status: number): Entry | undefined {
  return (
    responses[String(status)] ??
    responses[`${String(status)[0] ?? ''}xx`] ??
    responses[`${String(status)[0] ?? ''}XX`] ??
    responses['default']
  );
}

export function auditResponses(app: FastifyInstance): ResponseAudit {
  const failures: string[] = [];
  let checked = 0;
  const values = new WeakMap<FastifyRequest, unknown>();

  app.addHook('preSerialization', async (request, _reply, payload) => {
    values.set(request, payload);
    return payload;
  });
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload) => {
    const responses = request.routeOptions.schema?.response as Record<string, Entry> | undefined;
    if (responses === undefined) return payload;
    checked++;
    const name = `${request.method} ${request.routeOptions.url ?? request.url} → ${reply.statusCode}`;
    const fail = (why: string) => failures.push(`${name}: ${why}`);
    const entry = entryOf(responses, reply.statusCode);
    if (entry === undefined) {
      fail('status not documented');
      return payload;
    }
    const type =
      String(reply.getHeader('content-type') ?? '')
        .split(';')[0]
        ?.trim() ?? '';
    const bodyText = typeof payload === 'string' ? payload : undefined;
    let schema: object | undefined;
    if (entry.content !== undefined) {
      const documented =
        entry.content[type] ??
        Object.entries(entry.content).find(([t]) => t.split(';')[0] === type)?.[1];
      if (documented === undefined) {
        fail(`content type '${type}' not documented (${Object.keys(entry.content).join(', ')})`);
        return payload;
      }
      schema = documented.schema;
    } else if (Object.keys(entry).some((keyword) => keyword !== 'description')) {
      schema = entry;
    } else if (bodyText !== undefined && bodyText !== '') {
      fail('documented as empty, answered a body');
    }
    if (!/json/.test(type) || bodyText === undefined || schema === undefined) return payload;
    let body: unknown;
    try {
      body = JSON.parse(bodyText);
    } catch {
      fail('not JSON');
      return payload;
    }
    const validate = validatorOf(schema);
    if (!validate(body)) fail(`does not match its schema: ${JSON.stringify(validate.errors)}`);
    if (values.has(request)) {
      const original: unknown = JSON.parse(JSON.stringify(values.get(request)) ?? 'null');
      if (!isDeepStrictEqual(body, original))
        fail('the serialized body differs from the handler’s');
    }
    return payload;
  });
  return {
    get failures() {
      return failures;
    },
    get checked() {
      return checked;
    },
  };
}
