// The extension's one way to read and write `modelfactory.*` settings: typed by each setting's entry in
// server/src/settingsSchema.ts (the single source), checked at run time the same way the language
// server reads its own (a value of the wrong type in settings.json reads as the default).
import * as vscode from 'vscode';
import { settingSpec, settingValue, type SettingKey, type SettingValue } from '../../server/src/settingsSchema';

export function getSetting<K extends SettingKey>(key: K, scope?: vscode.ConfigurationScope): SettingValue<K> {
  const raw = vscode.workspace.getConfiguration(undefined, scope).get<unknown>(key);
  return settingValue(settingSpec(key), raw) as SettingValue<K>;
}

/** Writes a setting; user (global) settings by default, where machine-scoped settings belong. */
export async function updateSetting<K extends SettingKey>(
  key: K,
  value: SettingValue<K>,
  target: vscode.ConfigurationTarget = vscode.ConfigurationTarget.Global,
): Promise<void> {
  await vscode.workspace.getConfiguration().update(key, value, target);
}
