import type { PictorConfig } from '../config/index.ts';
import type { EventHub } from '../jobs/event-hub.ts';
import type { Caller, JobService } from '../jobs/job-service.ts';
import type { FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';

/** What the HTTP layer needs; built by the composition root (`src/cli/compose.ts`). */
export interface AppDeps {
  readonly service: JobService;
  readonly events: EventHub;
  /** Readiness of each dependency: true when usable, else the reason. */
  readonly checks: () => Promise<Record<string, true | string>>;
  /**
   * Identifies the caller (the auth hook). Without accounts every request is the local owner;
   * the accounts issue replaces this with an API-key lookup that throws `UNAUTHORIZED`.
   */
  readonly authenticate: (request: FastifyRequest) => Promise<Caller>;
  readonly metrics: Registry | undefined;
  /** Absolute base URL for links in responses. */
  readonly publicUrl: string;
  readonly config: PictorConfig;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}
