import type { Caller } from '../../../jobs/job-service.ts';
import type { ResultImage } from '../dialect-jobs.ts';
import type { LinkSigner } from '../signed-links.ts';
import type { OpenAIImageOptions } from './openai-params.ts';

/** Shared fields of an `ImagesResponse` and of the streaming events. */
export function imageMeta(
  options: OpenAIImageOptions,
  size: { width: number; height: number },
): { background: 'opaque'; output_format: string; quality: string; size: string } {
  return {
    background: 'opaque',
    output_format: options.outputFormat,
    quality: options.tier,
    size: `${size.width}x${size.height}`,
  };
}

/** Token usage is an OpenAI billing notion; Pictor bills credits, so every count is 0. */
export const ZERO_USAGE = {
  input_tokens: 0,
  input_tokens_details: { image_tokens: 0, text_tokens: 0 },
  output_tokens: 0,
  total_tokens: 0,
} as const;

/** OpenAI's `ImagesResponse`: base64 images, or signed links that work without a key. */
export function imagesResponse(
  results: readonly ResultImage[],
  options: OpenAIImageOptions,
  size: { width: number; height: number },
  caller: Caller,
  links: LinkSigner,
): Record<string, unknown> {
  return {
    created: Math.floor(Date.now() / 1000),
    data: results.map((r) =>
      options.responseFormat === 'url'
        ? { url: links.url({ owner: caller.owner, jobId: r.job.id, index: r.index }) }
        : { b64_json: r.data.toString('base64') },
    ),
    ...imageMeta(options, size),
  };
}
