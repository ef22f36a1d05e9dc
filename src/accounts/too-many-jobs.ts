import { ProblemError } from '../errors/index.ts';

/** The `TOO_MANY_JOBS` refusal of a key at its `max_jobs`, the same from every admission. */
export function tooManyJobs(max: number): ProblemError {
  return new ProblemError(
    'TOO_MANY_JOBS',
    `this key may have ${max} job${max === 1 ? '' : 's'} queued or running at once; wait for one to finish`,
    { headers: { 'retry-after': '1' }, extensions: { max_jobs: max } },
  );
}
