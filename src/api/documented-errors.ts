import type { FastifyInstance, FastifySchema } from 'fastify';

/** A JSON schema as the route options and the OpenAPI document take it. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** A response entry: its description and its body's schema under each media type. */
export interface ResponseDoc {
  readonly description: string;
  readonly content: Readonly<Record<string, { readonly schema: JsonSchema }>>;
}

/** A JSON response: `description` and the schema of its `application/json` body. */
export function jsonResponse(description: string, schema: JsonSchema): ResponseDoc {
  return { description, content: { 'application/json': { schema } } };
}

/** Entries put there by `documentErrors`, which a nearer scope's call may replace. */
const scopeDefaults = new WeakSet<object>();

/**
 * Gives every route registered after this call in `scope` (and its children) the error responses
 * of its API — problem+json on `/v1`, each dialect's own shape on its routes — for the statuses it
 * does not declare itself. The root's hook runs first; a dialect's call replaces its entries.
 */
export function documentErrors(
  scope: FastifyInstance,
  errors: Readonly<Record<string, ResponseDoc>>,
): void {
  for (const entry of Object.values(errors)) scopeDefaults.add(entry);
  scope.addHook('onRoute', (route) => {
    const schema: FastifySchema = route.schema ?? {};
    if (schema.hide === true) return;
    const response = { ...(schema.response as Record<string, unknown> | undefined) };
    for (const [status, entry] of Object.entries(errors)) {
      const own = response[status];
      if (own === undefined || (typeof own === 'object' && own !== null && scopeDefaults.has(own)))
        response[status] = entry;
    }
    route.schema = { ...schema, response };
  });
}
