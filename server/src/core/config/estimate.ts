// The memory estimate of a whole fine-tune config: what `modelfactory estimate`, the
// `modelfactory/memoryEstimate` request and the trainer's GPU benchmark read.
import { canEstimate, estimateMemory, memoryBreakdown, memoryConfigOf } from './memory';
import type { MemoryConfig, MemoryEstimate } from './memory';
import { resolveModel } from './modelInfo';
import type { ParsedYaml } from '../yaml/parse';
import { viewConfig } from './schema';
import type { ConfigContext } from './validate';

export interface ConfigMemoryEstimate {
  model: string;
  /** Where the model's facts came from. */
  source: 'disk' | 'catalog';
  config: MemoryConfig;
  estimate: MemoryEstimate;
  breakdown: { part: string; label: string; bytes: number }[];
  gpuMemoryBytes: number;
}

/** Undefined when the config names no model, or one whose size is unknown. */
export async function configMemoryEstimate(
  parsed: ParsedYaml,
  ctx: ConfigContext,
): Promise<ConfigMemoryEstimate | undefined> {
  const view = viewConfig(parsed.data);
  if (!view.baseModel) return undefined;
  const model = await resolveModel(view.baseModel, ctx.configDir, ctx.env);
  if (!model.facts || !canEstimate(model.facts)) return undefined;
  const config = memoryConfigOf(view);
  const estimate = estimateMemory(config, model.facts);
  return {
    model: view.baseModel,
    source: model.disk ? 'disk' : 'catalog',
    config,
    estimate,
    breakdown: memoryBreakdown(estimate),
    gpuMemoryBytes: ctx.settings.gpuMemoryGb * 1024 ** 3,
  };
}
