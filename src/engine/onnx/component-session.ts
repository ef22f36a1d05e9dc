import type { HostTensor, OnnxModel, RunOutputs } from './onnx-model.ts';

/**
 * One component of a pipeline (a text encoder, the denoiser, a VAE half) whose ONNX Runtime
 * session is created when first needed and kept until released: a model that only ever serves
 * txt2img never pays for its VAE encoder's session.
 *
 * A `transient` component (low-memory mode) lives only while it is used: released after each
 * `run`, or, for one used over many calls (the denoiser over the steps), at `done`. Callers use a
 * pipeline one batch at a time, so a release never races a run of the same component.
 */
export class ComponentSession {
  readonly label: string;
  readonly transient: boolean;
  readonly #create: () => Promise<OnnxModel>;
  #model: Promise<OnnxModel> | undefined;
  #current: OnnxModel | undefined;
  /** Time spent in sessions of this component already released, so timings survive a release. */
  #releasedRunTimeMs = 0;

  /** `create` makes the session; it runs again after each release. */
  constructor(
    label: string,
    create: () => Promise<OnnxModel>,
    options: { readonly transient?: boolean } = {},
  ) {
    this.label = label;
    this.#create = create;
    this.transient = options.transient ?? false;
  }

  /** The session, created now if it is not live. A failed creation is tried again next time. */
  model(): Promise<OnnxModel> {
    if (!this.#model) {
      const creating = this.#create().then((model) => {
        this.#current = model;
        return model;
      });
      this.#model = creating;
      creating.catch(() => {
        if (this.#model === creating) this.#model = undefined;
      });
    }
    return this.#model;
  }

  /** Runs the session (created if need be); a transient one is released afterwards. */
  async run(feeds: Record<string, HostTensor>): Promise<RunOutputs> {
    try {
      return await (await this.model()).run(feeds);
    } finally {
      await this.done();
    }
  }

  /** The caller is done with the component for this batch: a transient one is released. */
  async done(): Promise<void> {
    if (this.transient) await this.release();
  }

  /** Whether a session exists now (created, not released). */
  get live(): boolean {
    return this.#current !== undefined;
  }

  /** Milliseconds spent inside ONNX Runtime over every session this component has had. */
  get runTimeMs(): number {
    return this.#releasedRunTimeMs + (this.#current?.runTimeMs ?? 0);
  }

  /** Releases the session (its weights and arena); the next use creates it again. */
  async release(): Promise<void> {
    const pending = this.#model;
    if (!pending) return;
    this.#model = undefined;
    const model = await pending.catch(() => undefined);
    if (!model) return;
    this.#releasedRunTimeMs += model.runTimeMs;
    if (this.#current === model) this.#current = undefined;
    await model.dispose();
  }
}

/** The label every family's denoiser (UNet or transformer) carries. */
export const DENOISER_LABEL = 'unet';

/**
 * A pipeline component under its memory mode — the one place that mode is decided, whichever
 * loader or family: in low-memory mode every component is transient, so at any moment only the
 * one in use holds its weights (text encoders one after another, then the denoiser, then the VAE)
 * and peak memory is the largest component's rather than their sum.
 */
export function pipelineComponent(
  label: string,
  create: () => Promise<OnnxModel>,
  lowMemory: boolean | undefined,
): ComponentSession {
  return new ComponentSession(label, create, { transient: lowMemory === true });
}
