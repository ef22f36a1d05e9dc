export { ERROR_CATALOG, PROBLEM_TYPE_BASE, problemType, type ErrorCode } from './error-catalog.ts';
export { ProblemError, type ProblemBody, type ProblemOptions } from './problem-error.ts';
export { isDiskFull } from './disk-full.ts';
