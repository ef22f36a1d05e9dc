import type { PictorConfig } from '../config/index.ts';
import { ERROR_CATALOG, ProblemError, type ErrorCode } from '../errors/index.ts';
import { serverUrl } from './served-model-states.ts';

/** Long enough for a server to delete a large model's files; the request is not retried. */
const TIMEOUT_MS = 60_000;

/** Errors that mean nothing listens there (no server runs), so nothing can be using the model. */
const NO_SERVER = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && code in ERROR_CATALOG;
}

/**
 * `pictor models rm` while a server runs: only the server knows which jobs are queued or
 * running on the model, so the removal is its to do (`DELETE /v1/admin/models/{name}`, which
 * refuses with `MODEL_IN_USE` rather than delete files under a job). Answers false when no
 * server listens at the configured address (the CLI then removes the files itself); throws the
 * server's problem, or says which key it wants.
 */
export async function removeOnServer(
  config: PictorConfig,
  name: string,
  key: string | undefined,
): Promise<boolean> {
  const url = serverUrl(config);
  const secret = key ?? (config.adminKey === '' ? undefined : config.adminKey);
  let response: Response;
  try {
    response = await fetch(`${url}/v1/admin/models/${encodeURIComponent(name)}`, {
      method: 'DELETE',
      headers: secret === undefined ? {} : { authorization: `Bearer ${secret}` },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    if (code !== undefined && NO_SERVER.has(code)) return false;
    throw new ProblemError(
      'INTERNAL',
      `the server at ${url} did not answer the removal of '${name}' (${(error as Error).message}); nothing was removed here`,
    );
  }
  if (response.ok) return true;
  const body = (await response.json().catch(() => ({}))) as { code?: unknown; detail?: unknown };
  if (response.status === 401)
    throw new ProblemError(
      'UNAUTHORIZED',
      `a server runs at ${url} and must check that no job uses '${name}': give it an admin key (--key sk_…)`,
    );
  const detail =
    typeof body.detail === 'string'
      ? body.detail
      : `the server at ${url} answered ${response.status}`;
  throw new ProblemError(isErrorCode(body.code) ? body.code : 'INTERNAL', detail);
}
