import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ApiClient } from '../api-client.ts';
import type { PullView } from '../api-types.ts';
import { followPull, pullAfter, pullStarted, type PullProgress } from './model-pull.ts';

export interface Pulls {
  /** Newest first. */
  readonly pulls: readonly PullProgress[];
  /**
   * Follows a pull (one this page started, with the name asked for, or one running already);
   * once per pull id.
   */
  readonly follow: (view: PullView, name?: string) => void;
  readonly dismiss: (id: string) => void;
  /** Why following a pull failed (its stream refused), if it did. */
  readonly error: unknown;
}

/**
 * The pulls the Models page shows, each followed over its event stream while the page is open;
 * `onFinished` runs after each success or failure (the page reloads the model lists then).
 */
export function usePulls(api: ApiClient, onFinished: () => void): Pulls {
  const [pulls, setPulls] = useState<readonly PullProgress[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const followed = useRef(new Set<string>());
  const stop = useRef(new AbortController());
  useEffect(() => {
    const controller = new AbortController();
    stop.current = controller;
    return () => controller.abort();
  }, [api]);

  const update = (id: string, change: (p: PullProgress) => PullProgress): void =>
    setPulls((all) => all.map((p) => (p.id === id ? change(p) : p)));

  const follow = useCallback(
    (view: PullView, name?: string) => {
      if (followed.current.has(view.pull_id)) return;
      followed.current.add(view.pull_id);
      setPulls((all) => [pullStarted(view, name), ...all]);
      followPull(
        api,
        view.events_url,
        (event) => update(view.pull_id, (p) => pullAfter(p, event)),
        stop.current.signal,
      ).then(onFinished, (e: unknown) => {
        if (!stop.current.signal.aborted) setError(e);
      });
    },
    [api, onFinished],
  );
  const dismiss = useCallback((id: string) => {
    setPulls((all) => all.filter((p) => p.id !== id));
  }, []);
  return { pulls, follow, dismiss, error };
}
