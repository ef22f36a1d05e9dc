import { useCallback, useEffect, useState } from 'preact/hooks';

/** Loads something when `deps` change; `reload()` loads it again. Errors are kept, not thrown. */
export function useAsync<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
): { value: T | undefined; error: unknown; reload: () => void } {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (v) => {
        if (!current) return;
        setValue(v);
        setError(undefined);
      },
      (e: unknown) => current && setError(e),
    );
    return () => {
      current = false;
    };
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { value, error, reload };
}
