import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  configCodeActions,
  configCompletions,
  configHover,
  configSymbols,
  validateConfig,
} from '../../server/src/core/config';
import { LineIndex, parseYaml } from '../../server/src/core/yaml';
import { FIXTURES } from './helpers';
import { testContext } from './nodeEnv';

const ctx = testContext(FIXTURES);
const example = readFileSync(join(FIXTURES, 'llama.finetune.yaml'), 'utf8');

/** Runs every feature on `text` at `offset`; each must answer, never throw. */
async function exercise(text: string, offset: number): Promise<void> {
  const parsed = parseYaml(text);
  const findings = await validateConfig(parsed, ctx);
  assert.ok(Array.isArray(findings));
  const lines = new LineIndex(text);
  for (const f of findings) {
    assert.ok(f.range.start.line < lines.lineCount && f.range.end.line < lines.lineCount, 'ranges stay in the text');
  }
  const position = lines.positionAt(offset);
  await configHover(parsed, position, ctx);
  await configCompletions(parsed, position, ctx);
  configSymbols(parsed);
  configCodeActions(parsed, findings);
}

const yamlish = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'base_model: ',
        'method: ',
        'lora:',
        '  r: ',
        '  - ',
        'training:',
        'quantization:',
        '[',
        ']',
        '{',
        '}',
      ),
      fc.constantFrom(': ', '\n', '\r\n', '\r', '  ', '#', '"', "'", '&a ', '*a', '!!binary ', '---\n', '😀', '\u2028'),
      fc.string({ maxLength: 8 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

test('random YAML-ish text never makes any feature throw', async () => {
  await fc.assert(
    fc.asyncProperty(yamlish, fc.nat(), async (text, at) =>
      exercise(text, text.length === 0 ? 0 : at % (text.length + 1)),
    ),
    { numRuns: 150 },
  );
});

test('every truncation of a valid config is handled', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: example.length }), fc.nat(), async (cut, at) => {
      const text = example.slice(0, cut);
      await exercise(text, text.length === 0 ? 0 : at % (text.length + 1));
    }),
    { numRuns: 100 },
  );
});

test('an alias bomb is refused without blowing up', async () => {
  const bomb = [
    'a: &a [x, x, x, x, x, x, x, x, x]',
    ...Array.from({ length: 8 }, (_, i) => {
      const prev = i === 0 ? 'a' : `b${i - 1}`;
      return `b${i}: &b${i} [*${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}]`;
    }),
  ].join('\n');
  const findings = await validateConfig(parseYaml(bomb), ctx);
  assert.ok(findings.length > 0);
});
