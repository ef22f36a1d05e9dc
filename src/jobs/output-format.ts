/** Image formats a job may ask for. */
export type OutputFormat = 'png' | 'jpeg' | 'webp';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['png', 'jpeg', 'webp'];
