import { useState } from 'preact/hooks';
import type { ApiClient } from '../api-client.ts';
import type { CreatedKey, KeyView } from '../api-types.ts';
import { ProblemBanner } from '../problem-banner.tsx';
import { useAsync } from '../use-async.ts';
import { KeyActions } from './key-actions.tsx';

/** Admin: create keys (the secret shown once), grant credits, set rate limits, deactivate. */
export function KeysPage({ api }: { readonly api: ApiClient }) {
  const keys = useAsync(() => api.json<{ data: KeyView[] }>('/v1/admin/keys'), [api]);
  const [created, setCreated] = useState<CreatedKey | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const act = (work: Promise<unknown>): void => {
    setError(undefined);
    work.then(keys.reload, setError);
  };

  const create = (form: HTMLFormElement): void => {
    const data = new FormData(form);
    setError(undefined);
    api
      .send<CreatedKey>('POST', '/v1/admin/keys', {
        name: data.get('name'),
        credits: Number(data.get('credits')),
        rate_limit: Number(data.get('rate_limit')),
        scopes: data.get('admin') === 'on' ? ['generate', 'admin'] : ['generate'],
      })
      .then((key) => {
        setCreated(key);
        form.reset();
        keys.reload();
      }, setError);
  };

  return (
    <section class="admin-keys">
      <form
        class="row"
        aria-label="create a key"
        onSubmit={(e) => {
          e.preventDefault();
          create(e.currentTarget);
        }}
      >
        <label>
          Name <input name="name" required />
        </label>
        <label>
          Credits <input name="credits" type="number" min={0} value={100} />
        </label>
        <label>
          Rate limit /min <input name="rate_limit" type="number" min={0} value={60} />
        </label>
        <label class="inline">
          <input name="admin" type="checkbox" /> admin
        </label>
        <button type="submit" class="primary">
          Create key
        </button>
      </form>
      {created && (
        <div class="created-key" role="status">
          <p>
            Key <strong>{created.name}</strong> created. Copy it now — it is not shown again:
          </p>
          <code class="secret">{created.key}</code>
          <button type="button" onClick={() => setCreated(undefined)}>
            Done
          </button>
        </div>
      )}
      <ProblemBanner error={keys.error ?? error} />
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Prefix</th>
              <th>Scopes</th>
              <th>Credits</th>
              <th>Rate limit</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys.value?.data.map((k) => (
              <tr key={k.id} data-key-id={k.id}>
                <td>{k.name}</td>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>{k.scopes.join(', ')}</td>
                <td>{k.credits}</td>
                <td>{k.rate_limit === 0 ? 'none' : `${k.rate_limit}/min`}</td>
                <td>{k.active ? 'active' : 'deactivated'}</td>
                <td>
                  <KeyActions api={api} apiKey={k} act={act} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
