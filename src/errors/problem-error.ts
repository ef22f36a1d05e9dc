import { ERROR_CATALOG, problemType, type ErrorCode } from './error-catalog.ts';

export interface ProblemOptions {
  /** The request field at fault, reported as `field` in the problem body. */
  readonly field?: string;
  /** Extra response headers, e.g. `Retry-After`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Extra members of the problem body (RFC 9457 extensions). */
  readonly extensions?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/** RFC 9457 problem details body. */
export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ErrorCode;
  readonly instance?: string;
  readonly field?: string;
  readonly [extension: string]: unknown;
}

/** An expected failure with a catalog code; the API turns it into `application/problem+json`. */
export class ProblemError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, detail: string, options: ProblemOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProblemError';
    this.code = code;
    this.status = ERROR_CATALOG[code].status;
    this.field = options.field;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }

  toProblem(instance?: string): ProblemBody {
    return {
      ...this.extensions,
      type: problemType(this.code),
      title: ERROR_CATALOG[this.code].title,
      status: this.status,
      detail: this.message,
      code: this.code,
      ...(instance === undefined ? {} : { instance }),
      ...(this.field === undefined ? {} : { field: this.field }),
    };
  }
}
