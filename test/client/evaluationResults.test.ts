// The evaluation view's host side on a real `eval` run of the tiny model: results.jsonl and summary.json
// read into the summary and rows the webview shows (each row knowing its source record's file and line),
// the rows exported as SFT records and preference pairs, and damaged or missing results handled.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkMessagesRecord } from '../../client/src/panels/exportRecord';
import { preferenceRecordOf, sftRecordOf } from '../../client/src/evaluation/exportRows';
import { loadEvaluation, type LoadedEvaluation } from '../../client/src/evaluation/results';
import { parseEvaluationHostMessage, preferencePair } from '../../webviews/src/protocol/evaluation';
import { arithmeticRecords, runTinyEvaluation, type TinyEvaluation } from './tinyEvaluation';

describe('evaluation results (a real eval run of the tiny model)', () => {
  let work: string;
  let run: TinyEvaluation;
  let loaded: LoadedEvaluation;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'mf-eval-results-'));
    run = await runTinyEvaluation(join(work, 'ws'), join(work, 'cache'));
    loaded = await loadEvaluation(run.evalDir);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('reads the summary per model and one row per example, each knowing its source line', () => {
    assert.deepEqual(
      loaded.models.map((m) => [m.name, m.adapter]),
      [
        ['base', null],
        ['out', run.adapter],
      ],
    );
    assert.equal(loaded.examples.length, 8);
    assert.equal(loaded.note, null);
    const records = arithmeticRecords();
    for (const row of loaded.examples) {
      const source = loaded.sources.get(row.example)!;
      assert.equal(source.file, run.dataset);
      assert.equal(source.line, row.example + 1);
      assert.equal(row.source, `train.jsonl:${row.example + 1}`);
      const record = records[row.example]!;
      assert.equal(row.prompt, `user: ${record.messages[0]!.content}`);
      assert.equal(row.reference, record.messages[1]!.content);
      assert.equal(row.answers.length, 2);
      assert.ok(row.answers.every((a) => a !== null && a.metrics.rougeL !== null && a.metrics.loss !== null));
    }
    // What the trainer measured, unchanged: the adapter learned its training answers.
    const [base, adapter] = loaded.models;
    assert.ok(adapter!.metrics.rougeL! > base!.metrics.rougeL!, JSON.stringify(loaded.models));
    assert.ok(adapter!.metrics.loss! < base!.metrics.loss!, JSON.stringify(loaded.models));
    // The host's message passes the webview's parser whole.
    const message = {
      type: 'results',
      title: loaded.title,
      models: loaded.models,
      examples: loaded.examples,
      note: loaded.note,
    };
    assert.deepEqual(parseEvaluationHostMessage(message), message);
  });

  it('exports a row as an SFT record and as a preference pair with the better answer chosen', () => {
    const row = loaded.examples.find((r) => preferencePair(r, loaded.models) !== null);
    assert.ok(row, 'some example has two different answers');
    const source = loaded.sources.get(row.example)!;
    const sft = sftRecordOf(source, 'out');
    assert.ok(sft.ok);
    assert.equal(checkMessagesRecord(sft.record), null);
    assert.deepEqual(sft.record.messages, [
      { role: 'user', content: source.prompt[0]!.content },
      { role: 'assistant', content: source.answers.get('out') },
    ]);
    const pair = preferencePair(row, loaded.models)!;
    const [better, worse] = pair.chosen === 'out' ? [1, 0] : [0, 1];
    assert.ok(row.answers[better]!.metrics.rougeL! >= row.answers[worse]!.metrics.rougeL!);
    const preference = preferenceRecordOf(source, pair.chosen, pair.rejected);
    assert.ok(preference.ok);
    assert.deepEqual(preference.record, {
      prompt: [{ role: 'user', content: source.prompt[0]!.content }],
      chosen: [{ role: 'assistant', content: source.answers.get(pair.chosen) }],
      rejected: [{ role: 'assistant', content: source.answers.get(pair.rejected) }],
    });
    assert.equal(sftRecordOf(source, 'nobody').ok, false);
    assert.equal(preferenceRecordOf(source, 'out', 'out').ok, false);
  });

  it('reads a results.jsonl path, skips malformed lines and says when the summary is missing', async () => {
    const copy = join(work, 'partial');
    mkdirSync(copy);
    copyFileSync(join(run.evalDir, 'results.jsonl'), join(copy, 'results.jsonl'));
    appendFileSync(join(copy, 'results.jsonl'), '{not json\n[1,2]\n{"example": -1, "model": "base"}\n');
    const partial = await loadEvaluation(join(copy, 'results.jsonl'));
    assert.equal(partial.examples.length, 8);
    assert.deepEqual(
      partial.models.map((m) => [m.name, m.metrics.rougeL]),
      [
        ['base', null],
        ['out', null],
      ],
    );
    assert.match(partial.note ?? '', /No summary\.json/);
    assert.match(partial.note ?? '', /3 malformed line/);
    await assert.rejects(
      loadEvaluation(join(work, 'nowhere')),
      /holds no results\.jsonl: run `python -m modelfactory_trainer eval/,
    );
  });
});
