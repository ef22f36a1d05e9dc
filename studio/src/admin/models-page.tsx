import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { formatBytes } from '../../../src/library/format-bytes.ts';
import type { ApiClient } from '../api-client.ts';
import type { DownloadingModel, LibraryModelView, ModelView, PullView } from '../api-types.ts';
import { ProblemBanner } from '../problem-banner.tsx';
import { useAsync } from '../use-async.ts';
import { ModelStateCell } from './model-state-cell.tsx';
import { PullCard } from './pull-card.tsx';
import { PullForm } from './pull-form.tsx';
import { usePulls } from './use-pulls.ts';

interface Library {
  readonly data: readonly LibraryModelView[];
  readonly pulls: readonly PullView[];
}

const REFRESH_MS = 3000;

/**
 * Admin: the models with their state (loaded, available, failed with the reason, downloading),
 * family, format, size and source; load or unload one in the workers; pull one by reference
 * with live progress; remove one.
 * `onModelsChanged` tells the rest of the studio (the Generate picker) that the list changed.
 */
export function ModelsPage({
  api,
  onModelsChanged,
}: {
  readonly api: ApiClient;
  readonly onModelsChanged: () => void;
}) {
  const served = useAsync(
    () => api.json<{ data: (ModelView | DownloadingModel)[] }>('/v1/models').then((r) => r.data),
    [api],
  );
  const library = useAsync(() => api.json<Library>('/v1/admin/models'), [api]);
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [confirming, setConfirming] = useState<string | undefined>(undefined);
  /** The model a load or unload is under way for (the API answers once it is done). */
  const [changing, setChanging] = useState<string | undefined>(undefined);
  const reloadAll = useCallback(() => {
    served.reload();
    library.reload();
  }, [served.reload, library.reload]);
  // Workers take up a pulled model a moment after the pull ends (and a pull may come from
  // elsewhere), and a load can fail: tell the studio whenever the models it can generate with
  // change.
  const availability = (served.value ?? [])
    .filter((m) => m.state !== 'downloading')
    .map((m) => `${m.name} ${m.state === 'failed' ? 'failed' : 'ok'}`)
    .join('\n');
  const seenAvailability = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (served.value === undefined) return;
    const seen = seenAvailability.current;
    if (seen !== undefined && seen !== availability) onModelsChanged();
    seenAvailability.current = availability;
  }, [availability, onModelsChanged]);
  const pulls = usePulls(api, reloadAll);

  // Loaded state changes as jobs run, and pulls may start elsewhere: keep the page current.
  useEffect(() => {
    const timer = setInterval(reloadAll, REFRESH_MS);
    return () => clearInterval(timer);
  }, [reloadAll]);
  useEffect(() => {
    for (const running of library.value?.pulls ?? []) pulls.follow(running);
  }, [library.value, pulls.follow]);

  const act = (work: Promise<unknown>, done?: () => void): void => {
    setError(undefined);
    setNotice(undefined);
    work.then(() => {
      done?.();
      reloadAll();
    }, setError);
  };
  const remove = (model: LibraryModelView): void => {
    setConfirming(undefined);
    act(api.send('DELETE', `/v1/admin/models/${encodeURIComponent(model.name)}`), () =>
      setNotice(`removed '${model.name}' (${formatBytes(model.size_bytes)} freed)`),
    );
  };
  // Loading an SD model takes seconds to minutes on CPU: the row says so until the API answers.
  const setLoaded = (name: string, load: boolean): void => {
    setChanging(name);
    act(
      api
        .send('POST', `/v1/admin/models/${encodeURIComponent(name)}/${load ? 'load' : 'unload'}`)
        .finally(() => setChanging(undefined)),
      () => setNotice(`${load ? 'loaded' : 'unloaded'} '${name}'`),
    );
  };
  const onDisk = new Map((library.value?.data ?? []).map((m) => [m.name, m]));

  return (
    <section class="models">
      <PullForm
        onPull={(source, name) =>
          act(
            api
              .send<PullView>('POST', '/v1/admin/models', {
                source,
                ...(name === '' ? {} : { name }),
              })
              .then((view) => pulls.follow(view, name === '' ? undefined : name)),
          )
        }
      />
      {pulls.pulls.map((p) => (
        <PullCard
          key={p.id}
          pull={p}
          onCancel={() => act(api.send('DELETE', `/v1/admin/models/pulls/${p.id}`))}
          onDismiss={() => pulls.dismiss(p.id)}
        />
      ))}
      <ProblemBanner error={error ?? pulls.error ?? served.error ?? library.error} />
      {notice && <p role="status">{notice}</p>}
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th>Model</th>
              <th>State</th>
              <th>Family</th>
              <th>Format</th>
              <th>Size</th>
              <th>Source</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(served.value ?? []).map((m) => {
              const stored = onDisk.get(m.name);
              const isServed = m.state !== 'downloading';
              return (
                <tr key={m.name} data-model={m.name} data-state={m.state}>
                  <td>
                    {m.name}
                    {isServed && m.default ? ' (default)' : ''}
                  </td>
                  <ModelStateCell model={m} />
                  <td>{isServed ? m.family : (stored?.family_hint ?? '')}</td>
                  <td>{stored?.format ?? (isServed ? (m.format ?? '') : '')}</td>
                  <td>{stored ? formatBytes(stored.size_bytes) : ''}</td>
                  <td>
                    {stored?.source ?? m.source ?? (stored?.removable ? 'local' : 'pictor.yaml')}
                  </td>
                  <td>
                    <span class="row model-actions">
                      {(m.state === 'available' || m.state === 'loaded') &&
                        (changing === m.name ? (
                          <button type="button" disabled>
                            {m.state === 'loaded' ? 'Unloading…' : 'Loading…'}
                          </button>
                        ) : (
                          <button
                            type="button"
                            disabled={changing !== undefined}
                            onClick={() => setLoaded(m.name, m.state === 'available')}
                          >
                            {m.state === 'loaded' ? 'Unload' : 'Load'}
                          </button>
                        ))}
                      {stored?.removable &&
                        (confirming === m.name ? (
                          <span class="row">
                            <button type="button" class="danger" onClick={() => remove(stored)}>
                              Remove {m.name} and its files
                            </button>
                            <button type="button" onClick={() => setConfirming(undefined)}>
                              Keep
                            </button>
                          </span>
                        ) : (
                          <button type="button" onClick={() => setConfirming(m.name)}>
                            Remove
                          </button>
                        ))}
                    </span>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
