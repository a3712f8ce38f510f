// The real language server on golden-prompt files (*.evals.yaml): schema errors at their ranges with
// did-you-mean, a missing config and a repeated prompt name reported, hover from the schema, and key
// completion at the top level and inside a prompt and its expectations.
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CompletionItem, Hover } from 'vscode-languageserver-protocol';
import { open, startServer, type ServerHandle } from './harness';

const GOOD = `config: tiny.finetune.yaml
max_new_tokens: 16
prompts:
  - name: adds
    prompt: What is 1 plus 2?
    expect:
      regex: "^1 plus 2"
      max_tokens: 12
`;

describe('language server: *.evals.yaml', () => {
  let server: ServerHandle;
  let dir: string;
  before(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'mf-lsp-evals-')));
    writeFileSync(join(dir, 'tiny.finetune.yaml'), 'base_model: builtin:tiny-llama\ndataset: {path: train.jsonl}\n');
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  const complete = async (uri: string, line: number, character: number) =>
    (
      (await server.connection.sendRequest('textDocument/completion', {
        textDocument: { uri },
        position: { line, character },
      })) as CompletionItem[]
    ).map((item) => item.label);

  it('accepts a good file, hovers its keys and completes keys where they go', async () => {
    const path = join(dir, 'good.evals.yaml');
    const { uri, diagnostics } = await open(server, path, GOOD, 'yaml');
    assert.deepEqual(diagnostics, []);
    const hover = (await server.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 6, character: 8 },
    })) as Hover | null;
    assert.match(JSON.stringify(hover?.contents), /regular expression/);
    const top = await server.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 1, character: 3 },
    });
    assert.match(JSON.stringify((top as Hover).contents), /longest answer/);

    const typed = `${GOOD}  - name: second\n    \n`;
    const second = join(dir, 'typing.evals.yaml');
    const opened = await open(server, second, typed, 'yaml');
    assert.deepEqual((await complete(opened.uri, 9, 4)).sort(), ['expect', 'prompt', 'system']);
    const expectKeys = `${GOOD.replace('      max_tokens: 12\n', '      \n')}`;
    const third = await open(server, join(dir, 'expect.evals.yaml'), expectKeys, 'yaml');
    assert.deepEqual((await complete(third.uri, 7, 6)).sort(), [
      'contains',
      'equals',
      'judge',
      'max_tokens',
      'not_contains',
    ]);
    const fourth = await open(server, join(dir, 'top.evals.yaml'), `${GOOD}\n`, 'yaml');
    assert.deepEqual((await complete(fourth.uri, 8, 0)).sort(), ['adapters', 'base', 'judge']);
  });

  it('knows the judge expectation and the judge endpoint: hover, completion, a rubric required', async () => {
    const judged = `config: tiny.finetune.yaml
judge:
  base_url: http://localhost:8000/v1
  model: grader
prompts:
  - name: polite
    prompt: What is the capital of France?
    expect:
      judge:
        rubric: Names Paris in one polite sentence.
        min_score: 6
`;
    const { uri, diagnostics } = await open(server, join(dir, 'judged.evals.yaml'), judged, 'yaml');
    assert.deepEqual(diagnostics, []);
    const hoverAt = async (line: number, character: number) =>
      JSON.stringify(
        (
          (await server.connection.sendRequest('textDocument/hover', {
            textDocument: { uri },
            position: { line, character },
          })) as Hover | null
        )?.contents,
      );
    assert.match(await hoverAt(1, 2), /OpenAI-compatible endpoint/);
    assert.match(await hoverAt(8, 8), /LLM judge grades the answer 1-10/);
    assert.match(await hoverAt(10, 10), /lowest passing score/);
    const typing = await open(
      server,
      join(dir, 'judge-keys.evals.yaml'),
      judged.replace('  model: grader\n', '  \n'),
      'yaml',
    );
    assert.deepEqual((await complete(typing.uri, 3, 2)).sort(), ['api_key_env', 'model', 'timeout_seconds']);
    const noRubric = await open(
      server,
      join(dir, 'no-rubric.evals.yaml'),
      judged.replace('        rubric: Names Paris in one polite sentence.\n', ''),
      'yaml',
    );
    assert.deepEqual(
      noRubric.diagnostics.map((d) => [d.code, d.range.start.line]),
      [['evals/schema', 8]],
    );
    assert.match(String(noRubric.diagnostics[0]!.message), /rubric/);
  });

  it('reports schema errors with did-you-mean, a missing config and a repeated name', async () => {
    const bad = `config: missing.finetune.yaml
prompts:
  - name: adds
    prompt: hi
    expect: {contain: [x]}
  - name: adds
    prompt: again
    expect: {contains: [x]}
`;
    const first = await open(server, join(dir, 'bad.evals.yaml'), bad, 'yaml');
    assert.deepEqual(
      first.diagnostics.map((d) => [d.code, d.range.start.line]),
      [['evals/schema', 4]],
    );
    assert.match(String(first.diagnostics[0]!.message), /contains/);
    const fixed = bad.replace('contain:', 'contains:');
    const second = await open(server, join(dir, 'bad2.evals.yaml'), fixed, 'yaml');
    assert.deepEqual(second.diagnostics.map((d) => [d.code, d.range.start.line]).sort(), [
      ['evals/schema', 0],
      ['evals/schema', 5],
    ]);
    assert.ok(second.diagnostics.some((d) => /missing\.finetune\.yaml does not exist/.test(String(d.message))));
    assert.ok(second.diagnostics.some((d) => /names must be unique/.test(String(d.message))));
  });
});
