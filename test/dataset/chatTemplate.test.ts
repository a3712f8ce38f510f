// Lengths in the model's own terms: records rendered with the chat template (@huggingface/jinja) and
// encoded with the real tokenizer, compared with transformers' apply_chat_template on the same records;
// template choice, special tokens, template errors as findings, the length check's shortcut, and the
// per-line exact counts behind hovers and statistics.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { specialTokensOf, TemplateSet, templateMessages, templatesOf } from '../../server/src/core/chatTemplate';
import { validateConfig } from '../../server/src/core/config';
import { parseYaml } from '../../server/src/core/yaml';
import { toExample } from '../../server/src/core/dataset/contract';
import type { Example } from '../../server/src/core/dataset/example';
import type { ExampleTokenCounter } from '../../server/src/core/dataset/exampleTokens';
import { countRecordText, NO_TOKENS, type ExampleCount } from '../../server/src/core/dataset/exampleTokens';
import { detectRecordFormat } from '../../server/src/core/dataset/formats';
import { datasetHover } from '../../server/src/core/dataset/hover';
import { exampleText } from '../../server/src/core/dataset/recordText';
import { countLinesHere, DatasetValidator } from '../../server/src/core/dataset/validator';
import { effectiveSeverity } from '../../server/src/core/rules';
import { ModelFactoryService } from '../../server/src/core/service';
import { DEFAULT_SETTINGS } from '../../server/src/core/settings';
import { loadTokenCounter } from '../../server/src/core/tokenizer';
import { builtinChatTemplatesDir, nodeEnvironment } from '../../server/src/nodeFs';
import { workerLineCounter } from '../../server/src/parallel/exactCounts';
import { needTrainer, TRAINER_PYTHON } from '../needs';
import { validatorOptions } from './options';
import { hubCache, modelFolder, RECORDS, ROOT, type RealModel } from './realTokenizers';

function exampleOf(line: string): Example {
  const value: unknown = JSON.parse(line);
  const conversion = toExample(value, detectRecordFormat(value)!);
  assert.ok(conversion.ok, line);
  return conversion.example;
}

/** The same records through transformers (the trainer's venv): apply_chat_template, or text + EOS. */
function pythonCounts(folder: string, examples: Example[], chatTemplateFile?: string): number[] {
  needTrainer();
  const dir = mkdtempSync(join(tmpdir(), 'mf-py-'));
  const input = join(dir, 'examples.jsonl');
  const sequences = (e: Example) =>
    e.kind === 'preference'
      ? [
          [...e.messages, ...(e.chosen ?? [])],
          [...e.messages, ...(e.rejected ?? [])],
        ]
      : e.kind === 'kto'
        ? [[...e.messages, ...(e.completion ?? [])]]
        : [e.messages];
  writeFileSync(
    input,
    examples
      .map((e) =>
        JSON.stringify({
          kind: e.kind,
          text: e.text ?? null,
          tools: e.tools ?? null,
          sequences: sequences(e).map((turns) => templateMessages(turns)),
        }),
      )
      .join('\n') + '\n',
  );
  const script = `
import json, sys
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
template = open(sys.argv[3], encoding="utf-8").read() if len(sys.argv) > 3 else None
out = []
for line in open(sys.argv[2], encoding="utf-8"):
    item = json.loads(line)
    if item["kind"] == "text":
        out.append(len(tok(item["text"] + (tok.eos_token or ""), add_special_tokens=True)["input_ids"]))
        continue
    counts = [
        len(tok.apply_chat_template(m, tools=item["tools"], chat_template=template, tokenize=True, return_dict=True)["input_ids"])
        for m in item["sequences"]
    ]
    out.append(max(counts))
print(json.dumps(out))
`;
  const args = ['-c', script, folder, input, ...(chatTemplateFile ? [chatTemplateFile] : [])];
  const r = spawnSync(TRAINER_PYTHON, args, { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1' } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as number[];
}

async function counterFor(folder: string, chatTemplate?: string): Promise<ExampleTokenCounter> {
  const env = nodeEnvironment();
  const service = new ModelFactoryService(env, { ...DEFAULT_SETTINGS });
  const dataset = join(folder, '..', 'data.jsonl');
  const config = join(folder, '..', 'train.finetune.yaml');
  service.noteConfigDataset(config, dataset, folder, chatTemplate ? { chatTemplate } : {});
  return service.tokenCounterFor(dataset);
}

function tsCounts(counter: ExampleTokenCounter, examples: Example[]): number[] {
  return examples.map((e) => {
    const c = counter.countExample(e);
    assert.equal(c.exact, true);
    assert.equal(c.error, undefined);
    return c.tokens;
  });
}

describe('token counts agree with transformers on real tokenizers', () => {
  const examples = RECORDS.map(exampleOf);
  const preference = exampleOf(
    JSON.stringify({
      prompt: [{ role: 'user', content: 'Pick a learning rate for LoRA.' }],
      chosen: [{ role: 'assistant', content: 'Start at 2e-4 and watch the loss for the first hundred steps.' }],
      rejected: [{ role: 'assistant', content: '1.0' }],
    }),
  );

  for (const model of ['qwen3', 'llama3'] as RealModel[]) {
    it(`${model}: the model's own template, through a model folder`, async () => {
      const folder = modelFolder(model);
      const counter = await counterFor(folder);
      assert.equal(counter.exact, true);
      assert.equal(counter.templateName, `chat_template of ${folder}`);
      // Llama 3's own template knows no tool calls: the trainer refuses the tool-calling record, and so do we.
      const calls = model === 'llama3' ? [examples[1]!] : [];
      const all = [...examples.filter((e) => !calls.includes(e)), preference];
      for (const e of calls) {
        assert.match(counter.countExample(e).error ?? '', /does not render tool calls \(the call to 'get_weather'/);
      }
      const ts = tsCounts(counter, all);
      assert.deepEqual(ts, pythonCounts(folder, all));
      // Real counts, not the estimate: the tool-calling record is the longest under Qwen3's tool template.
      assert.ok(ts.every((n) => n > 5));
    });
  }

  it('qwen3 from the Hugging Face cache layout, and the built-in chatml and fallback templates', async () => {
    const { cache, snapshot } = hubCache('qwen3', 'Qwen/Qwen3-0.6B');
    const env = { ...nodeEnvironment(), huggingFaceHubCache: cache };
    const loaded = await loadTokenCounter('Qwen/Qwen3-0.6B', '/nowhere', env);
    assert.equal(loaded?.name, join(snapshot, 'tokenizer.json'));

    const templatesDir = builtinChatTemplatesDir();
    assert.ok(templatesDir, 'schemas/chat-templates is found from the sources');
    const chatml = await counterFor(snapshot, 'chatml');
    assert.equal(chatml.templateName, 'built-in chatml');
    assert.deepEqual(tsCounts(chatml, examples), pythonCounts(snapshot, examples, join(templatesDir, 'chatml.jinja')));

    // A model without a template of its own is rendered with fallback.jinja (its BOS, "### User:" headers).
    const bare = modelFolder('llama3');
    const config = JSON.parse(readFileSync(join(bare, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    delete config['chat_template'];
    writeFileSync(join(bare, 'tokenizer_config.json'), JSON.stringify(config));
    const fallback = await counterFor(bare);
    assert.match(fallback.templateName, /built-in fallback/);
    const rendered = fallback.templates!.renderExample(examples[0]!);
    assert.ok(Array.isArray(rendered) && rendered[0]!.startsWith('<|begin_of_text|>### System:\n'), String(rendered));
    assert.deepEqual(tsCounts(fallback, examples), pythonCounts(bare, examples, join(templatesDir, 'fallback.jinja')));
  });
});

describe('reasoning renders as the trainer renders it', () => {
  const records = [
    {
      messages: [
        { role: 'user', content: 'Is 91 prime?' },
        { role: 'assistant', content: 'No: 7 x 13.', reasoning_content: 'Try 7: 7 x 13 = 91.' },
      ],
    },
    {
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!', thinking: 'A greeting: greet back.' },
        { role: 'user', content: 'Capital of Peru?' },
        { role: 'assistant', content: 'Lima.', thinking: "Peru's capital is Lima." },
      ],
    },
  ].map((r) => JSON.stringify(r));

  /** The trainer's own rendering (data.render_chat with the model's template) and whether it probes as rendering reasoning. */
  function trainerRender(folder: string): { native: boolean; texts: string[] } {
    needTrainer();
    const script = `
import json, sys
from transformers import AutoTokenizer
from modelfactory_trainer.data import render_chat, renders_reasoning
from modelfactory_trainer.records import detect_format, to_example
tok = AutoTokenizer.from_pretrained(sys.argv[1])
texts = []
for line in sys.stdin:
    record = json.loads(line)
    example = to_example(record, detect_format(record))
    texts.append(render_chat(tok, example["messages"], False, None, None))
print(json.dumps({"native": renders_reasoning(tok, None), "texts": texts}))
`;
    const r = spawnSync(TRAINER_PYTHON, ['-c', script, folder], {
      input: records.join('\n') + '\n',
      encoding: 'utf8',
      cwd: join(ROOT, 'trainer'),
      env: { ...process.env, HF_HUB_OFFLINE: '1' },
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { native: boolean; texts: string[] };
  }

  for (const [model, native] of [
    ['qwen3', true],
    ['llama3', false],
  ] as [RealModel, boolean][]) {
    it(`${model}: ${native ? 'its template renders reasoning_content itself' : 'a template without reasoning gets it inline, in think tags'}`, () => {
      const folder = modelFolder(model);
      const config = JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
      const templates = new TemplateSet(templatesOf(config), specialTokensOf(config), folder);
      const template = templates.pick(false);
      assert.ok(!(template instanceof Error));
      assert.equal(template.rendersReasoning(undefined, specialTokensOf(config)), native);
      const ours = records.map((line) => {
        const rendered = templates.renderExample(exampleOf(line));
        assert.ok(Array.isArray(rendered), JSON.stringify(rendered));
        return rendered[0]!;
      });
      const theirs = trainerRender(folder);
      assert.equal(theirs.native, native);
      assert.deepEqual(ours, theirs.texts);
      // The last answer's reasoning is in the text either way; inline, in the contract's think tags.
      assert.ok(ours[1]!.includes("Peru's capital is Lima."));
      assert.equal(ours[0]!.includes('<think>\nTry 7: 7 x 13 = 91.\n</think>\n\nNo: 7 x 13.'), true);
    });
  }
});

describe('chat template choice and special tokens', () => {
  it('takes tokens as strings or {content} objects, and picks tool_use for records with tools', () => {
    const config = {
      bos_token: { content: '<s>', lstrip: false },
      eos_token: '</s>',
      pad_token: null,
      additional_special_tokens: ['<tool>', { content: '<call>' }],
      chat_template: [
        { name: 'default', template: 'D{% for m in messages %}[{{ m.role }}]{% endfor %}{{ eos_token }}' },
        {
          name: 'tool_use',
          template:
            'T{{ tools | length }}{{ bos_token }}{{ additional_special_tokens | join(",") }}' +
            '{% for m in messages %}{% for c in m.tool_calls or [] %}:{{ c.function.name }}{% endfor %}{% endfor %}',
        },
      ],
    };
    const specials = specialTokensOf(config);
    assert.deepEqual(specials, {
      bos_token: '<s>',
      eos_token: '</s>',
      additional_special_tokens: ['<tool>', '<call>'],
    });
    const set = new TemplateSet(templatesOf(config), specials, 'test');
    const plain = exampleOf(RECORDS[0]!);
    const withTools = exampleOf(RECORDS[1]!);
    assert.deepEqual(set.renderExample(plain), ['D[system][user][assistant]</s>']);
    assert.deepEqual(set.renderExample(withTools), ['T1<s><tool>,<call>:get_weather']);
    // chat_template.jinja beside the config replaces its default, as transformers loads it.
    assert.equal(templatesOf({ chat_template: 'old' }, 'new').get('default'), 'new');
  });

  it('passes tool calls with parsed arguments, tool_call_id and names the way templates read them', () => {
    const turns = exampleOf(RECORDS[1]!).messages;
    const messages = templateMessages(turns);
    assert.deepEqual(messages[1], {
      role: 'assistant',
      content: '',
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris', unit: 'C' } } },
      ],
    });
    assert.deepEqual(messages[2], {
      role: 'tool',
      content: '{"temperature": 21, "sky": "clear"}',
      tool_call_id: 'call_1',
    });
  });
});

/** A tokenizer folder whose template refuses conversations that do not alternate, like Mistral's and Gemma's. */
function strictModel(): string {
  const folder = modelFolder('qwen3');
  const config = JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  config['chat_template'] =
    "{% for m in messages %}{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}" +
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
    '<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}';
  writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify(config));
  return folder;
}

describe('template errors and the length check', () => {
  it("reports a record the template refuses as format/chat-template with the template's message", async () => {
    const counter = await counterFor(strictModel());
    const options = validatorOptions({ tokenCounter: counter });
    const good = RECORDS[3]!; // alpaca: user, assistant
    const bad = RECORDS[0]!; // system first: breaks the alternation
    const validator = new DatasetValidator(options);
    validator.update(0, 0, [good, bad]);
    const findings = validator.findings().filter((f) => f.rule === 'format/chat-template');
    assert.equal(findings.length, 1);
    assert.equal(findings[0]!.range.start.line, 1);
    assert.equal(findings[0]!.severity, 'error');
    assert.match(findings[0]!.message, /Conversation roles must alternate/);
    // The hover's record info says why there is no count, and the statistics leave the record out.
    assert.equal(
      validator.recordInfo(1)?.templateError,
      'Conversation roles must alternate user/assistant/user/assistant/...',
    );
    assert.equal(validator.recordInfo(1)?.tokens, undefined);
    const hover = datasetHover(validator, 1, 'file:///data.jsonl', counter.name)!.contents;
    assert.match(hover, /No token count: the chat template fails on this record \(Conversation roles must alternate/);
    assert.doesNotMatch(hover, /tokens \(/);
    const stats = await validator.exactTokenStats(countLinesHere(counter));
    assert.equal(stats?.templateErrors, 1);
    assert.deepEqual([...(stats?.lines ?? [])], [0]);
    assert.equal(validator.stats().tokens.max < NO_TOKENS, true);
  });

  it('reports a tool call the template leaves out, in the words the trainer uses, even for a short record', async () => {
    // A template that knows only role and content: the call would vanish and the model learn an empty answer.
    const folder = modelFolder('qwen3');
    const config = JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    config['chat_template'] =
      '{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}';
    writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify(config));
    const call = JSON.stringify({
      messages: [
        { role: 'user', content: 'Weather in Rome?' },
        { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
        { role: 'tool', content: 'Sunny' },
        { role: 'assistant', content: 'Sunny in Rome.' },
      ],
    });
    const lines = [RECORDS[3]!, call];
    for (const [chatTemplate, expected] of [
      [undefined, 1],
      ['chatml', 0],
    ] as const) {
      const validator = new DatasetValidator(
        validatorOptions({ tokenCounter: await counterFor(folder, chatTemplate) }),
      );
      validator.update(0, 0, lines);
      const findings = validator.findings().filter((f) => f.rule === 'format/chat-template');
      assert.equal(findings.length, expected, `chat_template ${chatTemplate ?? '(the model own)'}`);
      if (expected) {
        assert.equal(findings[0]!.range.start.line, 1);
        assert.match(findings[0]!.message, /does not render tool calls \(the call to 'get_weather' is missing/);
      }
    }
  });

  it('counts exactly every record that could be over the limit, and only estimates those surely under it', async () => {
    const counter = await counterFor(modelFolder('qwen3'));
    const examples = RECORDS.map(exampleOf);
    const exact = examples.map((e) => counter.countExample(e).tokens);
    for (const limit of [1, 16, 32, 64, 128, 200, 400, 4096]) {
      examples.forEach((e, i) => {
        const quick = counter.lengthCount(e, exampleText(e), limit);
        if (quick.exact) assert.equal(quick.tokens, exact[i]);
        // An estimated count is only ever given where the exact one is within the limit.
        else assert.ok(exact[i]! <= limit, `record ${i} at limit ${limit}: ${exact[i]} tokens estimated`);
      });
    }
    const validator = new DatasetValidator({
      severityOf: (rule: string) => effectiveSeverity(rule),
      maxTokens: 100,
      minChars: 1,
      nearThreshold: 0.85,
      tokenCounter: counter,
    });
    validator.update(0, 0, [...RECORDS]);
    const tooLong = validator.findings().filter((f) => f.rule === 'length/too-long');
    const over = exact.flatMap((n, i) => (n > 100 ? [i] : []));
    assert.deepEqual(
      tooLong.map((f) => f.range.start.line),
      over,
    );
    assert.match(tooLong[0]!.message, new RegExp(`^${exact[over[0]!]} tokens, more than the limit of 100`));
  });
});

describe('exact counts per line', () => {
  it('hover info is exact with a tokenizer, and statistics re-count only the lines an edit changed', async () => {
    // Qwen3's template renders every record here (Llama 3's knows no tool calls, so it refuses line 1).
    const counter = await counterFor(modelFolder('qwen3'));
    const validator = new DatasetValidator(validatorOptions({ tokenCounter: counter }));
    validator.update(0, 0, [...RECORDS]);
    const expected = RECORDS.map((line) => countRecordText(line, counter)!.tokens);
    const info = validator.recordInfo(2);
    assert.deepEqual({ tokens: info?.tokens, exact: info?.tokensExact }, { tokens: expected[2], exact: true });

    let counted = 0;
    const here = countLinesHere(counter);
    const countBatch = (texts: string[]): Promise<(ExampleCount | null)[]> => {
      counted += texts.length;
      return here(texts);
    };
    const progress: [number, number][] = [];
    const first = await validator.exactTokenStats(countBatch, (done, total) => progress.push([done, total]), 2);
    // Line 2 was counted for the hover already.
    assert.equal(counted, RECORDS.length - 1);
    assert.deepEqual(progress.at(-1), [RECORDS.length - 1, RECORDS.length - 1]);
    assert.deepEqual([...first!.perLine], expected);
    const sorted = [...expected].sort((a, b) => a - b);
    assert.equal(first!.tokens.max, sorted.at(-1));
    assert.equal(first!.tokens.exact, true);

    counted = 0;
    const longer = JSON.stringify({ text: 'A much longer text record. '.repeat(40) });
    validator.update(1, 1, [longer]);
    const second = await validator.exactTokenStats(countBatch);
    assert.equal(counted, 1, 'one edited line, one count');
    assert.equal(second!.perLine[1], countRecordText(longer, counter)!.tokens);
    assert.ok(second!.tokens.max > first!.tokens.max);
  });

  it('keeps a count only for the text it was made for when edits meanwhile give its line id to another line', async () => {
    const counter = await counterFor(modelFolder('qwen3'));
    const validator = new DatasetValidator(validatorOptions({ tokenCounter: counter }));
    validator.update(0, 0, [...RECORDS]);
    const longer = JSON.stringify({ text: 'A much longer text record. '.repeat(40) });
    const here = countLinesHere(counter);
    let edited = false;
    const countBatch = async (texts: string[]): Promise<(ExampleCount | null)[]> => {
      const counts = await here(texts);
      if (!edited) {
        edited = true;
        // While the batch is out: line 0 goes (its id is freed at the end of that edit), and the next
        // edit's new line takes that id.
        validator.update(0, 1, [RECORDS[1]!]);
        validator.update(1, 1, [longer]);
      }
      return counts;
    };
    const stats = await validator.exactTokenStats(countBatch);
    const texts = Array.from({ length: validator.lineCount() }, (_, i) => validator.lineText(i));
    assert.equal(texts[1], longer);
    assert.deepEqual(
      [...stats!.perLine],
      texts.map((text) => countRecordText(text, counter)!.tokens),
    );
  });

  it('without a tokenizer there are no exact statistics, and counts are the documented estimate', async () => {
    const service = new ModelFactoryService(nodeEnvironment(), { ...DEFAULT_SETTINGS });
    const counter = await service.tokenCounterFor(join(ROOT, 'no-model', 'data.jsonl'));
    assert.equal(counter.exact, false);
    assert.equal(counter.templateName, 'estimate');
    const e = exampleOf(RECORDS[0]!);
    assert.deepEqual(counter.countExample(e), { tokens: counter.countExample(e).tokens, exact: false });
    const validator = new DatasetValidator(validatorOptions({ tokenCounter: counter }));
    validator.update(0, 0, [...RECORDS]);
    assert.equal(await validator.exactTokenStats(countLinesHere(counter)), undefined);
    assert.equal(validator.recordInfo(0)?.tokensExact, false);
  });
});

describe('diagnostics where a tokenizer or a chat template is configured', () => {
  async function configFindings(dir: string, yaml: string) {
    const settings = { ...DEFAULT_SETTINGS };
    const ctx = {
      env: nodeEnvironment(),
      settings,
      configDir: dir,
      severityOf: (rule: string) => effectiveSeverity(rule),
    };
    const findings = await validateConfig(parseYaml(yaml), ctx);
    return findings.filter((f) => f.rule === 'config/tokenizer-not-found' || f.rule === 'config/chat-template');
  }

  it('says where it looked for a base model that is not on disk, and accepts one that is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cfg-'));
    modelFolder('qwen3', join(dir, 'models', 'qwen3'));
    writeFileSync(join(dir, 'data.jsonl'), RECORDS[0] + '\n');
    const base = (model: string, extra = '') =>
      `base_model: ${model}\nmethod: lora\ndataset:\n  path: data.jsonl\n  format: messages\n${extra}`;
    const missing = await configFindings(dir, base('acme/not-downloaded'));
    assert.equal(missing.length, 1);
    assert.equal(missing[0]!.severity, 'information');
    assert.equal(missing[0]!.range.start.line, 0);
    assert.match(
      missing[0]!.message,
      /No tokenizer\.json for 'acme\/not-downloaded' on disk \(looked for .*\/acme\/not-downloaded\/tokenizer\.json and .*models--acme--not-downloaded/,
    );
    assert.deepEqual(await configFindings(dir, base('./models/qwen3')), []);

    const unknown = await configFindings(dir, base('./models/qwen3', 'chat_template: chatmel\n'));
    assert.equal(unknown.length, 1);
    assert.equal(unknown[0]!.rule, 'config/chat-template');
    assert.match(unknown[0]!.message, /'chatmel' is neither a built-in chat template \(chatml\) nor a \.jinja file/);
    assert.deepEqual(await configFindings(dir, base('./models/qwen3', 'chat_template: chatml\n')), []);
    const absent = await configFindings(dir, base('./models/qwen3', 'chat_template: ./mine.jinja\n'));
    assert.match(absent[0]!.message, /does not exist \(looked for .*\/mine\.jinja\)/);
    writeFileSync(join(dir, 'broken.jinja'), '{% for m in messages %}{{ m.content }');
    const broken = await configFindings(dir, base('./models/qwen3', 'chat_template: broken.jinja\n'));
    assert.match(broken[0]!.message, /does not parse/);
  });
});

describe('exact counts on worker threads', () => {
  it('gives the same counts, template errors included, as counting on this thread', async () => {
    const counter = await counterFor(strictModel());
    const options = validatorOptions({ tokenCounter: counter });
    const texts = [
      ...RECORDS,
      '{"messages": [',
      JSON.stringify({ messages: [{ role: 'user', content: 'unanswered' }] }),
    ];
    const workers = await workerLineCounter(options, 2);
    assert.ok(workers, 'the worker pool starts');
    try {
      const there = await workers.countBatch(texts);
      const here = await countLinesHere(counter)(texts);
      assert.equal(there.length, texts.length);
      assert.deepEqual(
        there.map((c) => (c ? (c.error !== undefined ? 'error' : c.tokens) : null)),
        here.map((c) => (c ? (c.error !== undefined ? 'error' : c.tokens) : null)),
      );
      assert.ok(there.some((c) => c?.error !== undefined) && there.some((c) => c && c.error === undefined));
      assert.match(there.find((c) => c?.error !== undefined)!.error!, /Conversation roles must alternate/);
    } finally {
      await workers.close();
    }
  });
});
