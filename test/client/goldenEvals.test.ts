// The Testing view's reading of a *.evals.yaml (prompt names and lines) and of `golden --json` output
// (per model results, the expectations turned into the text a failure diffs against the answer).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectedText, goldenPrompts, isEvalsPath, parseGoldenOutput } from '../../client/src/golden/evalsFile';

const EVALS = `# golden prompts
config: tiny.finetune.yaml
prompts:
  - name: adds
    prompt: What is 1 plus 2?
    expect: {equals: "1 plus 2 is 3."}
  # a comment between
  - prompt: What is 2 plus 2?
    name: short
    expect:
      contains: [plus]
      regex: "^2"
      max_tokens: 12
  - name: adds
    prompt: duplicate name, ignored here (the trainer refuses the file)
    expect: {contains: [x]}
  - prompt: no name
    expect: {contains: [x]}
`;

describe('golden prompts for the Testing view', () => {
  it('lists named prompts with the line each starts on', () => {
    assert.deepEqual(goldenPrompts(EVALS), [
      { name: 'adds', line: 3 },
      { name: 'short', line: 7 },
    ]);
    assert.deepEqual(goldenPrompts('prompts: [unclosed'), []);
    assert.deepEqual(goldenPrompts('- just a list'), []);
    assert.equal(isEvalsPath('/w/checks.evals.yaml'), true);
    assert.equal(isEvalsPath('/w/checks.evals.yml'), true);
    assert.equal(isEvalsPath('/w/evals.yaml'), false);
  });

  it('reads the trainer report and says what was expected', () => {
    const stdout = `${JSON.stringify({
      passed: 1,
      failed: 1,
      results: [
        {
          name: 'adds',
          model: 'base',
          adapter: null,
          answer: 'Paris',
          tokens: 1,
          passed: false,
          problems: ["expected exactly '1 plus 2 is 3.'"],
          seconds: 0.5,
          expect: { equals: ' 1 plus 2 is 3. ' },
        },
        {
          name: 'adds',
          model: 'out',
          adapter: '/w/out/adapter',
          answer: '1 plus 2 is 3.',
          tokens: 7,
          passed: true,
          problems: [],
          seconds: 0.25,
          expect: { equals: '1 plus 2 is 3.' },
        },
      ],
    })}\n`;
    const results = parseGoldenOutput(stdout);
    assert.ok(Array.isArray(results));
    assert.deepEqual(
      results.map((r) => [r.model, r.passed, r.answer]),
      [
        ['base', false, 'Paris'],
        ['out', true, '1 plus 2 is 3.'],
      ],
    );
    assert.equal(expectedText(results[0]!.expect), '1 plus 2 is 3.');
    assert.equal(
      expectedText({ contains: ['plus', 'is'], not_contains: ['Paris'], regex: '^2', max_tokens: 12 }),
      'contains "plus", "is"\ndoes not contain "Paris"\nmatches /^2/\nat most 12 tokens',
    );
    assert.equal(
      expectedText({ contains: ['Paris'], judge: { rubric: 'Polite.', min_score: 5 } }),
      'contains "Paris"\na judge scores it at least 5/10 for: Polite.',
    );
    assert.equal(expectedText({ judge: { rubric: 'Short.' } }), 'a judge scores it at least 7/10 for: Short.');
    assert.equal(parseGoldenOutput('Traceback (most recent call last)'), 'the trainer printed no JSON report');
    assert.equal(parseGoldenOutput('{"passed": 0}'), 'the trainer printed no results');
  });
});
