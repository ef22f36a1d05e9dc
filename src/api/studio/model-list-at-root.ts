import type { AppDeps } from '../app-deps.ts';

/** What `GET /` answers an API client: the models it may name, as the SDXL FastAPI seed lists them. */
export interface RootModelList {
  readonly message: string;
  readonly available_models: readonly string[];
  readonly default_model: string;
  readonly docs_url: string;
}

export function modelListAtRoot(deps: AppDeps): RootModelList {
  return {
    message: 'Pictor image generation API; open this address in a browser for the studio',
    available_models: deps.service
      .models()
      .filter((m) => m.available)
      .map((m) => m.name),
    default_model: deps.config.models.default,
    docs_url: `${deps.publicUrl}/docs`,
  };
}
