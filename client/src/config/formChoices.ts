// What the hyperparameter form offers: base models (the catalog's and the user's local folders), the
// chosen model's module names for LoRA targets, the schema's enums, and the training targets.
import { lookupModel, MODEL_CATALOG, moduleNames } from '../../../server/src/core/config/catalog';
import { FIELD_ENUMS, isSafeText } from '../../../webviews/src/protocol/hyperparameters';
import type { BaseModelChoice, FormChoices, FormValues } from '../../../webviews/src/protocol/hyperparameters';

const MODULE_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

export interface ChoiceSources {
  /** Local model folders (workspace-relative or absolute paths) the user can pick. */
  localModels: readonly string[];
  /** Names of the configured remote endpoints. */
  endpointNames: readonly string[];
}

export function formChoices(values: FormValues, sources: ChoiceSources): FormChoices {
  const baseModels: BaseModelChoice[] = MODEL_CATALOG.map((spec) => ({
    id: spec.id,
    family: spec.family,
    source: 'catalog',
  }));
  const known = new Set(baseModels.map((m) => m.id));
  for (const folder of sources.localModels) {
    if (isSafeText(folder) && folder.length > 0 && !known.has(folder)) {
      known.add(folder);
      baseModels.push({ id: folder, family: null, source: 'local' });
    }
  }

  const baseModel = values.base_model.status === 'ok' ? String(values.base_model.value) : undefined;
  const spec = baseModel === undefined ? undefined : lookupModel(baseModel)?.spec;
  const modules = spec ? moduleNames(spec) : [];
  const chosen = values['lora.target_modules'].value;
  if (Array.isArray(chosen)) for (const name of chosen) if (!modules.includes(name)) modules.push(name);

  const targets = ['local', ...sources.endpointNames.map((name) => `remote:${name}`)].filter((t) =>
    /^(local|remote:[A-Za-z0-9_.-]+)$/.test(t),
  );
  return {
    baseModels,
    targetModules: modules.filter((m) => MODULE_NAME.test(m)),
    enums: Object.fromEntries(Object.entries(FIELD_ENUMS).map(([path, options]) => [path, [...options]])),
    targets,
  };
}
