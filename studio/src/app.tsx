import { useCallback, useMemo, useState } from 'preact/hooks';
import { AdminPage } from './admin/admin-page.tsx';
import { ApiClient } from './api-client.ts';
import type { Balance, DownloadingModel, JobParameters, ModelView } from './api-types.ts';
import { GalleryPage } from './gallery-page.tsx';
import { GeneratePage } from './generate-page.tsx';
import { formForModel, formFromJob, type GenerationForm } from './generation-form.ts';
import { fileAsDataUri } from './image-files.ts';
import { KeyBar } from './key-bar.tsx';
import { storeKey, storedKey } from './key-store.ts';
import { ProblemBanner } from './problem-banner.tsx';
import type { ResultActions } from './result-actions.ts';
import type { StudioSettings } from '../../src/api/studio/studio-settings.ts';
import { useAsync } from './use-async.ts';

const TABS = ['Generate', 'Results', 'Admin'] as const;
type Tab = (typeof TABS)[number];

/** The studio: a key, then Generate, Results and (admin keys) Admin; all through `/v1`. */
export function App({ settings }: { readonly settings: StudioSettings }) {
  const [key, setKey] = useState(storedKey);
  const api = useMemo(() => new ApiClient(key), [key]);
  const [tab, setTab] = useState<Tab>('Generate');
  const [submissions, setSubmissions] = useState(0);
  const balance = useAsync(
    () => (key === '' ? Promise.resolve(undefined) : api.json<Balance>('/v1/account/balance')),
    [api, submissions],
  );
  const models = useAsync(
    () =>
      key === ''
        ? Promise.resolve([] as ModelView[])
        : api
            .json<{ data: (ModelView | DownloadingModel)[] }>('/v1/models')
            // A model still downloading has no defaults or limits yet: it cannot be chosen.
            .then((r) => r.data.filter((m): m is ModelView => m.state !== 'downloading')),
    [api],
  );
  const [form, setForm] = useState<GenerationForm | undefined>(undefined);
  const [initImage, setInitImage] = useState<string | undefined>(undefined);
  const list = models.value ?? [];
  const fallback = list.find((m) => m.default) ?? list[0];
  const current = form ?? (fallback ? formForModel(fallback) : undefined);

  const reuseParameters = useCallback(
    (model: string, parameters: Partial<JobParameters>) => {
      setForm((f) => {
        const known = list.find((m) => m.name === model) ?? fallback;
        const base = f ?? (known ? formForModel(known) : undefined);
        return base && known ? formFromJob(base, known.name, parameters) : f;
      });
      setTab('Generate');
    },
    [list, fallback],
  );
  const actions: ResultActions = {
    reuseParameters,
    useAsInit: (image) => {
      void fileAsDataUri(image).then((uri) => {
        setInitImage(uri);
        setTab('Generate');
      });
    },
  };
  const changeKey = (next: string): void => {
    storeKey(next);
    setKey(next);
    setForm(undefined);
  };
  const isAdmin = balance.value?.scopes.includes('admin') ?? false;

  return (
    <>
      <header class="top">
        <h1>
          <img src="/studio/icon.svg" alt="" width={24} height={24} /> Pictor
        </h1>
        {key !== '' && (
          <nav class="tabs" aria-label="pages">
            {TABS.filter((t) => t !== 'Admin' || isAdmin).map((t) => (
              <button key={t} type="button" aria-pressed={t === tab} onClick={() => setTab(t)}>
                {t}
              </button>
            ))}
          </nav>
        )}
        <KeyBar apiKey={key} balance={balance.value} onKey={changeKey} signup={settings.signup} />
      </header>
      <main>
        <ProblemBanner error={balance.error ?? models.error} />
        {key !== '' && current && (
          <>
            <div hidden={tab !== 'Generate'}>
              <GeneratePage
                api={api}
                models={list}
                form={current}
                onForm={setForm}
                initImage={initImage}
                onInitImage={setInitImage}
                actions={actions}
                onSubmitted={() => setSubmissions((n) => n + 1)}
              />
            </div>
            {tab === 'Results' && <GalleryPage api={api} actions={actions} refresh={submissions} />}
            {tab === 'Admin' && isAdmin && <AdminPage api={api} onModelsChanged={models.reload} />}
          </>
        )}
        {key === '' && (
          <p class="welcome">
            Enter an API key to start. The server prints an admin key on its first start; the API
            reference is at <a href="/docs">/docs</a>.
          </p>
        )}
      </main>
    </>
  );
}
