import { useState } from 'preact/hooks';
import type { ApiClient } from '../api-client.ts';
import { KeysPage } from './keys-page.tsx';
import { ModelsPage } from './models-page.tsx';
import { QueuePage } from './queue-page.tsx';
import { UsagePage } from './usage-page.tsx';

const SECTIONS = ['Keys', 'Usage', 'Queue', 'Models'] as const;
type Section = (typeof SECTIONS)[number];

/** The operator's pages (an admin key): keys and credits, usage, queue and workers, the model library. */
export function AdminPage({
  api,
  onModelsChanged,
}: {
  readonly api: ApiClient;
  /** A model was pulled or removed: the Generate picker reloads its list. */
  readonly onModelsChanged: () => void;
}) {
  const [section, setSection] = useState<Section>('Keys');
  return (
    <section class="admin">
      <nav class="subtabs" aria-label="admin sections">
        {SECTIONS.map((s) => (
          <button key={s} type="button" aria-pressed={s === section} onClick={() => setSection(s)}>
            {s}
          </button>
        ))}
      </nav>
      {section === 'Keys' && <KeysPage api={api} />}
      {section === 'Usage' && <UsagePage api={api} />}
      {section === 'Queue' && <QueuePage api={api} />}
      {section === 'Models' && <ModelsPage api={api} onModelsChanged={onModelsChanged} />}
    </section>
  );
}
