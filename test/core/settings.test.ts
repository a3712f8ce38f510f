// package.json must declare exactly the settings of the single source in settingsSchema.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configurationContribution, SERVER_SETTINGS, toCoreSettings } from '../../server/src/settingsSchema';
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
});
