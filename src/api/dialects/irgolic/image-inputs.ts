import { ProblemError } from '../../../errors/index.ts';
import { sniffImageType } from '../../../jobs/decode-image-input.ts';
import type { Caller, JobService } from '../../../jobs/job-service.ts';
import { GuardedFetchError, getGuardedUrl } from '../../../webhooks/get-guarded-url.ts';
import type { BlobLinks } from './blob-links.ts';

export interface ImageInputOptions {
  readonly fetchImageUrls: boolean;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly allowPrivateAddresses: boolean;
}

const invalid = (field: string, why: string): ProblemError =>
  new ProblemError('VALIDATION_FAILED', `${field}: ${why}`, { field });

/**
 * Turns an `initial_image` / `mask` URL into what a job takes: this server's own blob URLs are
 * read directly (an upload of the caller by its id, anything else by its bytes); a `data:` URI is
 * passed on; other URLs are fetched only when `irgolic.fetchImageUrls` allows, through the
 * webhooks' SSRF guard, within the size and time limits.
 */
export class ImageInputs {
  readonly #service: JobService;
  readonly #links: BlobLinks;
  readonly #o: ImageInputOptions;

  constructor(service: JobService, links: BlobLinks, options: ImageInputOptions) {
    this.#service = service;
    this.#links = links;
    this.#o = options;
  }

  async resolve(
    caller: Caller,
    url: string | undefined,
    field: string,
  ): Promise<string | undefined> {
    if (url === undefined) return undefined;
    if (url.startsWith('data:')) return url;
    const token = this.#links.tokenOf(url);
    const target = token === undefined ? undefined : this.#links.check(token);
    if (target?.kind === 'upload') {
      const found = await this.#service.uploadData(target.uploadId);
      if (!found) throw invalid(field, `the blob ${url} expired or was deleted`);
      return found.upload.owner === caller.owner
        ? found.upload.id
        : this.#bytes(found.data, field, url);
    }
    if (target?.kind === 'result') {
      const { data } = await this.#service
        .image({ owner: target.owner, maxPriority: 0 }, target.jobId, target.index, false)
        .catch(() => {
          throw invalid(field, `the blob ${url} expired or was deleted`);
        });
      return this.#bytes(data, field, url);
    }
    if (!this.#o.fetchImageUrls)
      throw invalid(
        field,
        "only this server's blob URLs (from POST /blob or a result) are accepted; fetching other URLs is off (irgolic.fetchImageUrls)",
      );
    const data = await getGuardedUrl(url, {
      maxBytes: this.#o.maxBytes,
      timeoutMs: this.#o.timeoutMs,
      allowPrivateAddresses: this.#o.allowPrivateAddresses,
    }).catch((error: unknown) => {
      if (error instanceof GuardedFetchError)
        throw invalid(field, `could not fetch ${url}: ${error.message}`);
      throw error;
    });
    return this.#bytes(data, field, url);
  }

  #bytes(data: Buffer, field: string, url: string): string {
    if (!sniffImageType(data))
      throw new ProblemError('INVALID_IMAGE', `${field}: ${url} is not a PNG, JPEG or WebP image`, {
        field,
      });
    return data.toString('base64');
  }
}
