import type { PictorConfig } from '../config/index.ts';

/** A model's state on the running server, as `GET /v1/models` says it. */
export interface ServedState {
  readonly state: string;
  readonly error: string | null;
}

/** What the running server said, or why the CLI cannot know. */
export type ServedStates =
  | { readonly known: true; readonly url: string; readonly models: Map<string, ServedState> }
  | { readonly known: false; readonly url: string; readonly reason: string };

const TIMEOUT_MS = 1500;

/** The server this config describes (a wildcard listen address is reached on loopback). */
export function serverUrl(config: PictorConfig): string {
  if (config.server.publicUrl !== '') return config.server.publicUrl.replace(/\/$/, '');
  const host = ['0.0.0.0', '::', ''].includes(config.server.host)
    ? '127.0.0.1'
    : config.server.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}`;
}

/**
 * Asks the running server which models are loaded (`GET /v1/models`), with `key` (or the
 * configured admin key) when it wants one. The library on disk cannot know what a server holds
 * in memory, so when no server answers this says so instead of guessing.
 */
export async function servedModelStates(config: PictorConfig, key?: string): Promise<ServedStates> {
  const url = serverUrl(config);
  const secret = key ?? (config.adminKey === '' ? undefined : config.adminKey);
  let response: Response;
  try {
    response = await fetch(`${url}/v1/models`, {
      headers: secret === undefined ? {} : { authorization: `Bearer ${secret}` },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    return { known: false, url, reason: `no server answers at ${url}` };
  }
  if (response.status === 401 || response.status === 403)
    return {
      known: false,
      url,
      reason: `the server at ${url} wants an API key (--key sk_…)`,
    };
  if (!response.ok)
    return { known: false, url, reason: `the server at ${url} answered ${response.status}` };
  const body = (await response.json()) as { data: ({ name: string } & ServedState)[] };
  return {
    known: true,
    url,
    models: new Map(body.data.map((m) => [m.name, { state: m.state, error: m.error ?? null }])),
  };
}
