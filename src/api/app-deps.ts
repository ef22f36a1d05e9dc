import type { PictorConfig } from '../config/index.ts';
import type { JobEventBus } from '../jobs/job-event-bus.ts';
import type { Caller, JobService } from '../jobs/job-service.ts';
import type { AccountsApi } from '../accounts/accounts-api.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { ModelLibrary } from '../library/model-library.ts';
import type { ModelLoading } from '../jobs/inference-workers.ts';

/** What the HTTP layer needs; built by the composition root (`src/cli/compose.ts`). */
export interface AppDeps {
  readonly service: JobService;
  /** Every job's events, wherever the job runs (this process, or a cluster's worker node). */
  readonly events: JobEventBus;
  /** Readiness of each dependency: true when usable, else the reason. */
  readonly checks: () => Promise<Record<string, true | string>>;
  /**
   * Identifies the caller of every request (the auth hook, `src/accounts/authenticator.ts`): the
   * API key from `Authorization: Bearer`, HTTP Basic (key as password) or, on GET, `?token=`.
   * Throws `UNAUTHORIZED`, `FORBIDDEN` or `RATE_LIMITED`; sets `RateLimit-*` headers on `reply`.
   * The app-wide `onRequest` hook runs it for every route; a route declares `config: { auth:
   * 'public' }` to need no key (its own credential, e.g. a signed link). Health, docs and
   * (if configured) metrics are public; they get an anonymous caller without scopes.
   */
  readonly authenticate: (request: FastifyRequest, reply?: FastifyReply) => Promise<Caller>;
  /** Admin and account routes (keys, credits, analytics, backups, sign-up); absent = none. */
  readonly accounts?: AccountsApi;
  readonly metrics: Registry | undefined;
  /** Absolute base URL for links in responses. */
  readonly publicUrl: string;
  readonly config: PictorConfig;
  /** The model library behind `/v1/admin/models` and the models' state; absent = fixed models. */
  readonly library?: ModelLibrary;
  /** Loading and unloading models by hand (`/v1/admin/models/{name}/load`); absent = none. */
  readonly loading?: ModelLoading;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}
