// The core's view of user settings: the parsed, typed form of the `modelfactory.*` settings the language
// server reads. Fields, types, defaults and descriptions follow from their single source,
// server/src/settingsSchema.ts (pure data, shared with the extension and package.json): each field is a
// server setting's `core` name there.
import { defaultCoreSettings, type CoreSettingsOf } from '../settingsSchema';

export type CoreSettings = CoreSettingsOf;

export const DEFAULT_SETTINGS: CoreSettings = defaultCoreSettings();
