/** An API refusal, carrying the RFC 9457 problem's `detail` (what the page shows). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;

  constructor(status: number, detail: string, code: string | undefined) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

interface Problem {
  readonly title?: string;
  readonly detail?: string;
  readonly code?: string;
}

/** The problem's detail (or title), whatever the body; the status line when it is not JSON. */
async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const problem = JSON.parse(text) as Problem;
    const detail = problem.detail ?? problem.title ?? `${response.status} ${response.statusText}`;
    return new ApiError(response.status, detail, problem.code);
  } catch {
    return new ApiError(response.status, `${response.status} ${response.statusText}`, undefined);
  }
}

/** Calls the public API with the user's key (Bearer); throws `ApiError` on a refusal. */
export class ApiClient {
  readonly #key: string;

  constructor(key: string) {
    this.#key = key;
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#key !== '') headers.set('authorization', `Bearer ${this.#key}`);
    if (typeof init.body === 'string') headers.set('content-type', 'application/json');
    const response = await fetch(path, { ...init, headers });
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    return (await (await this.fetch(path, init)).json()) as T;
  }

  send<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.json<T>(path, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  /** A result image as an object URL (images need the key, so `<img src>` cannot fetch them). */
  async blobUrl(path: string): Promise<string> {
    return URL.createObjectURL(await (await this.fetch(path)).blob());
  }
}
