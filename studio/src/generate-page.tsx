import { useCallback, useRef, useState } from 'preact/hooks';
import type { ApiClient } from './api-client.ts';
import type { ModelView, Submitted } from './api-types.ts';
import { GenerateFormFields } from './generate-form-fields.tsx';
import { jobBody, randomSeed, type GenerationForm } from './generation-form.ts';
import { InitImagePanel } from './init-image-panel.tsx';
import { JobCard } from './job-card.tsx';
import type { MaskReader } from './mask-painter.tsx';
import { ProblemBanner } from './problem-banner.tsx';
import { ReproduceDrop } from './reproduce-drop.tsx';
import type { ResultActions } from './result-actions.ts';

interface Props {
  readonly api: ApiClient;
  readonly models: readonly ModelView[];
  readonly form: GenerationForm;
  readonly onForm: (form: GenerationForm) => void;
  readonly initImage: string | undefined;
  readonly onInitImage: (image: string | undefined) => void;
  readonly actions: ResultActions;
  readonly onSubmitted: () => void;
}

interface Card {
  readonly id: string;
  readonly prompt: string;
}

/** The generate form and a card per job in flight (several at once). */
export function GeneratePage(props: Props) {
  const { api, models, form, onForm, initImage, onInitImage, actions } = props;
  const [cards, setCards] = useState<readonly Card[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const readMask = useRef<MaskReader | undefined>(undefined);
  const model = models.find((m) => m.name === form.model);
  const keepMaskReader = useCallback((read: MaskReader | undefined) => {
    readMask.current = read;
  }, []);

  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const mask = initImage === undefined ? undefined : readMask.current?.();
      const job = await api.send<Submitted>('POST', '/v1/jobs', jobBody(form, initImage, mask));
      setCards((c) => [{ id: job.job_id, prompt: form.prompt }, ...c]);
      if (!form.seedLocked) onForm({ ...form, seed: randomSeed() });
      props.onSubmitted();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="generate">
      <form
        class="generate-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            void submit();
          }
        }}
      >
        <GenerateFormFields models={models} form={form} onChange={onForm} />
        <InitImagePanel
          image={initImage}
          strength={form.strength}
          inpainting={model?.inpainting ?? false}
          onImage={onInitImage}
          onStrength={(strength) => onForm({ ...form, strength })}
          onMaskReader={keepMaskReader}
        />
        <ReproduceDrop onParameters={(m, p) => actions.reuseParameters(m ?? form.model, p)} />
        <div class="row">
          <button type="submit" class="primary" disabled={busy}>
            Generate
          </button>
          <span class="hint">Ctrl/⌘ + Enter</span>
        </div>
        <ProblemBanner error={error} />
      </form>
      <div class="cards" aria-label="jobs">
        {cards.map((c) => (
          <JobCard
            key={c.id}
            api={api}
            jobId={c.id}
            prompt={c.prompt}
            actions={actions}
            onClose={() => setCards((all) => all.filter((x) => x.id !== c.id))}
          />
        ))}
      </div>
    </section>
  );
}
