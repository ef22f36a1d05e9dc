import { useEffect, useState } from 'preact/hooks';
import type { ApiClient } from './api-client.ts';
import type { JobView } from './api-types.ts';
import { download } from './image-files.ts';
import { ProblemBanner } from './problem-banner.tsx';
import type { ResultActions } from './result-actions.ts';

interface Props {
  readonly api: ApiClient;
  readonly job: JobView;
  readonly actions: ResultActions;
}

/** A finished job's images (fetched with the key) with view, download and reuse actions. */
export function ResultImages({ api, job, actions }: Props) {
  const [urls, setUrls] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [full, setFull] = useState<string | undefined>(undefined);
  const images = job.result && !job.result.deleted ? job.result.images : [];

  useEffect(() => {
    let created: string[] = [];
    Promise.all(
      images.map((i) => api.blobUrl(`/v1/jobs/${job.job_id}/image?index=${i.index}`)),
    ).then((u) => {
      created = u;
      setUrls(u);
    }, setError);
    return () => created.forEach((u) => URL.revokeObjectURL(u));
  }, [api, job.job_id, images.length]);

  const extension = (mime: string): string => mime.split('/')[1] ?? 'png';
  return (
    <div class="results">
      <ProblemBanner error={error} />
      {images.map((image, i) => {
        const url = urls[i];
        if (url === undefined) return null;
        return (
          <figure key={image.index}>
            <img
              src={url}
              alt={`result ${image.index + 1} of ${job.parameters.prompt}`}
              class="result"
              onClick={() => setFull(url)}
            />
            <figcaption>
              seed {image.seed}
              <span class="actions">
                <button type="button" onClick={() => setFull(url)}>
                  View
                </button>
                <button
                  type="button"
                  onClick={() =>
                    download(
                      url,
                      `pictor-${job.job_id}-${image.index}.${extension(image.mime_type)}`,
                    )
                  }
                >
                  Download
                </button>
                <button
                  type="button"
                  onClick={() =>
                    void fetch(url).then(async (r) => actions.useAsInit(await r.blob()))
                  }
                >
                  Use as init image
                </button>
                <button
                  type="button"
                  onClick={() =>
                    actions.reuseParameters(job.model, {
                      ...job.parameters,
                      seed: image.seed,
                      n: 1,
                    })
                  }
                >
                  Reuse parameters
                </button>
              </span>
            </figcaption>
          </figure>
        );
      })}
      {full !== undefined && (
        <dialog open class="full-view" onClick={() => setFull(undefined)}>
          <img src={full} alt="full size result" />
          <p>Click to close</p>
        </dialog>
      )}
    </div>
  );
}
