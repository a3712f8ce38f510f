// The language service: one object answers every feature for every document kind, and owns the parse
// cache (one parse per open document version, dropped on close).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateConfig } from '../../server/src/core/config';
import { configContext, DOCUMENT_KINDS } from '../../server/src/core/documentModels';
import { documentKindOf, type DocumentKind } from '../../server/src/core/documentKind';
import { ModelFactoryService, textDocument, type ServiceDocument } from '../../server/src/core/service';
import { DEFAULT_SETTINGS } from '../../server/src/core/settings';
import { parseYaml } from '../../server/src/core/yaml';
import { nodeEnvironment } from '../../server/src/nodeFs';
import { LineDocument } from '../../server/src/documents';

const FIXTURES = join(__dirname, '..', 'fixtures', 'configs');
const RECORD = '{"messages":[{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"4"}]}';
const OTHER = '{"messages":[{"role":"user","content":"Name a colour."},{"role":"assistant","content":"Blue."}]}';
const MANIFEST = 'name: demo\nversion: 1.0.0\nfiles: ["*.jsonl"]\nlicense: cc-by-4.0\n';

function service(): ModelFactoryService {
  return new ModelFactoryService(nodeEnvironment(), {
    ...DEFAULT_SETTINGS,
    rules: { 'config/tokenizer-not-found': 'off' },
  });
}

/** A folder with one file of each kind (and one of none). */
function workspace(): Record<DocumentKind | 'json' | 'other', string> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-service-'));
  const files = {
    config: join(dir, 'train.finetune.yaml'),
    manifest: join(dir, 'datanet.yaml'),
    registry: join(dir, 'dataset_info.json'),
    evals: join(dir, 'golden.evals.yaml'),
    dataset: join(dir, 'chat.jsonl'),
    json: join(dir, 'chat.json'),
    other: join(dir, 'notes.txt'),
  };
  writeFileSync(files.config, readFileSync(join(FIXTURES, 'llama.finetune.yaml'), 'utf8').replace('data/', ''));
  writeFileSync(files.manifest, MANIFEST);
  writeFileSync(files.registry, JSON.stringify({ chat: { file_name: 'chat.json', formatting: 'sharegpt' } }));
  writeFileSync(files.dataset, [RECORD, RECORD, OTHER].join('\n') + '\n');
  writeFileSync(files.json, `[${RECORD},\n${OTHER}]`);
  writeFileSync(files.other, 'not ours');
  // Golden prompts with a typo'd key.
  writeFileSync(
    files.evals,
    'config: missing.finetune.yaml\nprompts:\n  - name: adds\n    prompt: 1 plus 2?\n    expekt: {}\n',
  );
  return files;
}

function open(s: ModelFactoryService, path: string, version = 1): LineDocument {
  const doc = new LineDocument(`file://${path}`, 'plaintext', version, readFileSync(path, 'utf8'));
  s.open(doc, path);
  return doc;
}

describe('the language service', () => {
  it('keeps one YAML parse per open document version and drops it on close', () => {
    const s = service();
    const doc = { ...textDocument('file:///w/a.finetune.yaml', 'base_model: x\n'), version: 1 } as ServiceDocument;
    s.open(doc, '/w/a.finetune.yaml');
    const first = s.parsedYaml(doc);
    assert.equal(s.parsedYaml(doc), first, 'the same version is parsed once');
    const edited = textDocument('file:///w/a.finetune.yaml', 'base_model: y\n', 2);
    const second = s.parsedYaml(edited);
    assert.notEqual(second, first, 'a new version is parsed again');
    assert.equal((second.data as { base_model: string }).base_model, 'y');
    s.close(doc.uri);
    assert.notEqual(s.parsedYaml(edited), s.parsedYaml(edited), 'a closed document is not cached');
  });

  it('answers every feature for every kind, and nothing where a kind has no such feature', async () => {
    const files = workspace();
    const s = service();
    const docs = Object.fromEntries(Object.entries(files).map(([k, p]) => [k, open(s, p)])) as Record<
      keyof typeof files,
      LineDocument
    >;
    for (const doc of Object.values(docs)) assert.ok(['now', 'burst'].includes(await s.validate(doc.uri, 'open')));

    // The config's findings are exactly the config validator's on the same text.
    const expected = await validateConfig(parseYaml(docs.config.getText()), configContext(s, files.config));
    assert.deepEqual(s.findings(docs.config.uri), expected);
    const configHover = await s.hover(docs.config.uri, { line: 1, character: 2 });
    assert.match(configHover?.contents ?? '', /Llama/);
    const end = { line: docs.config.lineCount - 1, character: 0 };
    assert.ok((await s.complete(docs.config.uri, end)).some((item) => item.label === 'chat_template'));
    assert.ok(s.symbols(docs.config.uri).some((sym) => sym.name === 'lora'));
    assert.equal((await s.memoryEstimate(docs.config.uri))?.model, 'meta-llama/Llama-3.2-1B-Instruct');

    assert.ok((await s.complete(docs.manifest.uri, { line: 4, character: 0 })).length > 0, 'manifest keys');
    assert.ok(s.symbols(docs.manifest.uri).some((sym) => sym.name === 'files'));

    // The JSONL dataset: record hovers, the duplicate and its fixes, statistics.
    assert.match((await s.hover(docs.dataset.uri, { line: 0, character: 0 }))?.contents ?? '', /Record 1/);
    const duplicate = s.findings(docs.dataset.uri).find((f) => f.rule === 'dedup/exact');
    assert.ok(duplicate, 'the repeated record is a duplicate');
    const fixes = s.codeActions(docs.dataset.uri, duplicate.range, ['dedup/exact'], false);
    assert.ok(fixes.length > 0 && fixes.every((a) => a.edits.length > 0));
    assert.equal((await s.stats(docs.dataset.uri)).records, 3);
    assert.equal((await s.stats(docs.json.uri)).records, 2);
    assert.match((await s.hover(docs.json.uri, { line: 1, character: 3 }))?.contents ?? '', /Record 2/);

    // Features a kind lacks answer nothing, and the requests that need one kind say what is wrong.
    assert.deepEqual(await s.complete(docs.dataset.uri, { line: 0, character: 0 }), []);
    assert.deepEqual(s.findings(docs.other.uri), []);
    // Golden prompts: the schema is checked; keys hover and complete from the schema.
    const evalsFindings = s.findings(docs.evals.uri);
    assert.ok(evalsFindings.some((f) => f.rule === 'evals/schema' && /Did you mean "expect"/.test(f.message)));
    assert.ok(evalsFindings.some((f) => f.rule === 'evals/schema' && f.range.start.line === 4));
    assert.ok((await s.hover(docs.evals.uri, { line: 0, character: 2 }))?.contents);
    assert.ok((await s.complete(docs.evals.uri, { line: 3, character: 4 })).length > 0, 'prompt keys');
    assert.equal(await s.hover(docs.other.uri, { line: 0, character: 0 }), undefined);
    await assert.rejects(s.stats(docs.config.uri), /is not a dataset/);
    await assert.rejects(s.memoryEstimate(docs.dataset.uri), /is not an open fine-tune config/);
    assert.equal(s.affectsOthers(docs.config.uri), true);
    assert.equal(s.affectsOthers(docs.dataset.uri), false);

    // Closed: the service forgets it.
    s.close(docs.dataset.uri);
    assert.deepEqual(s.findings(docs.dataset.uri), []);
    await assert.rejects(s.stats(docs.dataset.uri), /is not a dataset/);
  });

  it('re-checks a JSONL document by its line splices, with the findings of a fresh open', async () => {
    const files = workspace();
    const s = service();
    const doc = open(s, files.dataset);
    await s.validate(doc.uri, 'open');
    assert.ok(s.findings(doc.uri).some((f) => f.rule === 'dedup/exact'));
    const splice = doc.apply({
      range: { start: { line: 1, character: 0 }, end: { line: 1, character: 999 } },
      text: OTHER.replace('Blue', 'Red'),
    });
    s.update(doc.uri, [splice]);
    assert.equal(await s.validate(doc.uri, 'edit'), 'burst');
    const fresh = service();
    fresh.open(textDocument('fresh', doc.getText()), files.dataset);
    await fresh.validate('fresh', 'open');
    assert.deepEqual(s.findings(doc.uri), fresh.findings('fresh'));
    assert.ok(!s.findings(doc.uri).some((f) => f.rule === 'dedup/exact'));
  });

  it('lints a whole file by its name, skipping a .json file that holds no dataset unless forced', async () => {
    const s = service();
    const notData = await s.lintText('/w/package.json', '{"name": "x"}');
    assert.ok(notData.skipped, 'package.json is not a dataset');
    const forced = await s.lintText('/w/package.json', '{"name": "x"}', { forceDataset: true });
    assert.equal(forced.skipped, undefined);
    assert.ok(forced.stats, 'a forced .json file is checked as a dataset');
    const asConfig = await s.lintText('/w/any-name.yaml', 'base_model: [\n', { as: 'config' });
    assert.ok(asConfig.findings.some((f) => f.rule === 'config/schema'));
    assert.deepEqual((await s.lintText('/w/any-name.yaml', 'base_model: [\n')).findings, []);
  });

  it('has a handler for every kind a file name can have', () => {
    for (const name of ['a.finetune.yaml', 'datanet.yaml', 'dataset_info.json', 'a.jsonl', 'a.json']) {
      const kind = documentKindOf(`/w/${name}`);
      assert.ok(kind && DOCUMENT_KINDS[kind], name);
    }
  });

  it("does not lint the trainer's own outputs as datasets (record losses, an evaluation's answers)", () => {
    assert.equal(documentKindOf('/w/outputs/run-1/record-loss.jsonl'), undefined);
    assert.equal(documentKindOf('/w/outputs/run-1/eval/results.jsonl'), undefined);
    assert.equal(documentKindOf('C:\\w\\eval\\results.jsonl'), undefined);
    assert.equal(documentKindOf('/w/data/results.jsonl'), 'dataset', 'a dataset may be named results.jsonl');
    assert.equal(documentKindOf('/w/evals/results.jsonl'), 'dataset');
  });
});
