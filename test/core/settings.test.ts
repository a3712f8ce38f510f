// package.json must declare exactly the settings of the single source in settingsSchema.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ALL_SETTINGS,
  configurationContribution,
  SERVER_SETTINGS,
  settingSpec,
  settingValue,
  toCoreSettings,
} from '../../server/src/settingsSchema';
import { DEFAULT_SETTINGS } from '../../server/src/core/settings';

describe('settings', () => {
  it('package.json contributes exactly the settings of settingsSchema.ts (run npm run sync:settings)', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
    assert.deepEqual(pkg.contributes.configuration, configurationContribution());
  });

  it('every setting has the modelfactory. prefix, a scope and a description', () => {
    for (const s of SERVER_SETTINGS) {
      assert.match(s.key, /^modelfactory\./);
      assert.ok(s.description.length > 20, s.key);
      assert.ok(s.scope, s.key);
    }
  });

  it('reads what VS Code sends and ignores values of the wrong type', () => {
    const parsed = toCoreSettings({
      gpuMemoryGb: 80,
      rules: { 'pii/email': 'off', 'dedup/*': 'error', bogus: 'loud' },
      dataset: { maxTokens: 'many', tokenizer: 'gpt2' },
    });
    assert.equal(parsed.gpuMemoryGb, 80);
    assert.deepEqual(parsed.rules, { 'pii/email': 'off', 'dedup/*': 'error' });
    assert.equal(parsed.maxTokens, DEFAULT_SETTINGS.maxTokens);
    assert.equal(parsed.tokenizer, 'gpt2');
  });

  it('the core settings and their defaults are the server settings of the schema, by their core names', () => {
    assert.deepEqual(DEFAULT_SETTINGS, Object.fromEntries(SERVER_SETTINGS.map((s) => [s.core, s.default])));
    assert.deepEqual(Object.keys(toCoreSettings(undefined)).sort(), SERVER_SETTINGS.map((s) => s.core).sort());
    assert.deepEqual(toCoreSettings(undefined), DEFAULT_SETTINGS);
  });

  it('a value of the wrong type in settings.json reads as the default, for every setting', () => {
    const wrong: Record<string, unknown> = { number: 'many', string: 7, boolean: 'yes', array: {}, object: [] };
    for (const spec of ALL_SETTINGS) {
      assert.deepEqual(settingValue(spec, wrong[spec.type]), spec.default, spec.key);
      assert.deepEqual(settingValue(spec, undefined), spec.default, spec.key);
    }
    assert.equal(settingValue(settingSpec('modelfactory.trainer.pythonPath'), '/usr/bin/python3'), '/usr/bin/python3');
    assert.equal(settingValue(settingSpec('modelfactory.trainer.allowDownload'), true), true);
    assert.equal(settingValue(settingSpec('modelfactory.gpuMemoryGb'), Number.NaN), 24);
    const endpoints = [{ name: 'gpu', url: 'wss://gpu.example:8765' }];
    assert.deepEqual(settingValue(settingSpec('modelfactory.trainer.endpoints'), endpoints), endpoints);
  });
});
