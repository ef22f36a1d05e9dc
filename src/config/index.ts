export type {
  PictorConfig,
  ModelConfig,
  ModelOverridesConfig,
  ModelTokenizersConfig,
  WorkerDevice,
  WorkerEngineKind,
} from './config.ts';
export { MODEL_ALIAS_PATTERN, TOKENIZER_ROLES } from './config.ts';
export { DEFAULT_CONFIG } from './config.ts';
export { ConfigError } from './config-error.ts';
export { loadConfig, envLayer, type LoadConfigOptions } from './load-config.ts';
export { validateConfig } from './validate-config.ts';
export {
  parseQuantization,
  QUANTIZATION_SPELLINGS,
  type QuantizationSetting,
} from './quantization-setting.ts';
export type { NodeRole } from './node-role.ts';
