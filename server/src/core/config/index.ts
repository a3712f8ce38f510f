// The fine-tune config features, as the language service's config documents (documentModels.ts),
// the CLI and the webviews use them.
export { lookupModel, moduleNames, MODEL_CATALOG } from './catalog';
export type { CatalogMatch, LinearModule, ModelFamily, ModelSpec } from './catalog';
export { readModelDir, readSafetensorsHeader, resolveModel, MAX_SAFETENSORS_HEADER_BYTES } from './modelInfo';
export type { DiskModelInfo, ModelFacts, ResolvedModel } from './modelInfo';
export {
  canEstimate,
  estimateMemory,
  FIXED_OVERHEAD_BYTES,
  formatBytes,
  loraParameterCount,
  memoryBreakdown,
  memoryConfigOf,
  memoryTable,
  targetedModules,
} from './memory';
export type { MemoryConfig, MemoryEstimate, MemoryModel, MemoryParts, Precision } from './memory';
export { FINETUNE_SCHEMA, finetuneValidator, schemaAt, viewConfig } from './schema';
export type { ConfigView, SchemaNode } from './schema';
export { detectSampleFormat, LORA_LR_MAX, LORA_LR_MIN, validateConfig } from './validate';
export type { ConfigContext } from './validate';
export { configHover, escapeMarkdown } from './hover';
export { configCompletions } from './completion';
export { configCodeActions } from './codeActions';
export { configSymbols } from './symbols';
export { configMemoryEstimate } from './estimate';
export type { ConfigMemoryEstimate } from './estimate';
