import type { JobParameters } from './api-types.ts';

/** What a result offers to the rest of the studio: reuse it as input or reuse its settings. */
export interface ResultActions {
  readonly useAsInit: (image: Blob) => void;
  readonly reuseParameters: (model: string, parameters: Partial<JobParameters>) => void;
}
