// Every dataset rule, positive and negative, through the editor validator on real record lines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatasetValidator } from '../../server/src/core/dataset/validator';
import type { DatasetValidatorOptions } from '../../server/src/core/dataset/validator';
import { effectiveSeverity } from '../../server/src/core/rules';
import type { Finding } from '../../server/src/core/types';
import { validatorOptions } from './options';

function options(extra: Partial<DatasetValidatorOptions> = {}): DatasetValidatorOptions {
  return validatorOptions({ nearThreshold: 0.8, ...extra });
}

function run(lines: string[], extra: Partial<DatasetValidatorOptions> = {}): Finding[] {
  const v = new DatasetValidator(options(extra));
  v.update(0, 0, lines);
  return v.findings();
}

const chat = (user: string, assistant: string): string =>
  JSON.stringify({
    messages: [
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ],
  });

function rules(findings: Finding[]): string[] {
  return findings.map((f) => f.rule).sort();
}

/** The text a finding's range covers on its line. */
function covered(lines: string[], f: Finding): string {
  return (lines[f.range.start.line] ?? '').slice(f.range.start.character, f.range.end.character);
}

describe('jsonl rules', () => {
  it('reports invalid JSON at the error position and accepts valid lines', () => {
    const lines = ['{"text": "ok"}', '{"text": "ok" "more": 1}', '{"text": tru}'];
    const f = run(lines);
    const invalid = f.filter((x) => x.rule === 'jsonl/invalid-json');
    assert.deepEqual(
      invalid.map((x) => x.range.start.line),
      [1, 2],
    );
    assert.equal(covered(lines, invalid[0]!), '"more"');
    assert.equal(invalid[1]!.range.start.character, 9);
  });

  it('reports a record nested past 64 levels as too deep, not one of 64, with the duplicate rules on or off', () => {
    // In 64 nested objects, or 63 of them and an array; one more of either is too deep.
    const nested = (objects: number, array: boolean): string =>
      '{"a":'.repeat(objects) + (array ? '[1]' : '1') + '}'.repeat(objects);
    const lines = [nested(64, false), nested(63, true), nested(65, false), nested(64, true)];
    // With dedup on, the exact hash's pass measures the depth; with both duplicate rules off, a walk of the value.
    const dedupOff = (rule: string) => (rule.startsWith('dedup/') ? undefined : effectiveSeverity(rule));
    for (const extra of [{}, { severityOf: dedupOff }]) {
      const deep = run(lines, extra).filter((x) => x.rule === 'jsonl/too-deep');
      assert.deepEqual(
        deep.map((x) => x.range.start.line),
        [2, 3],
      );
    }
  });

  it('reports blank lines but not the empty last line after a final newline', () => {
    const f = run(['{"text": "a"}', '   ', '{"text": "b"}', '']);
    assert.deepEqual(
      f.filter((x) => x.rule === 'jsonl/blank-line').map((x) => x.range.start.line),
      [1],
    );
  });
});

describe('format rules', () => {
  it('reports a record of no known format', () => {
    assert.deepEqual(rules(run(['{"question": "a", "answer": "b"}'])), ['format/unknown']);
    assert.deepEqual(rules(run(['[1, 2]'])), ['format/unknown']);
    // The message names each shape once, prompt-completion among them.
    const [finding] = run(['{"question": "a", "answer": "b"}']);
    for (const shape of [
      '{"messages": [...]}',
      '{"text"}',
      '{"prompt", "completion"}',
      '{"prompt", "chosen", "rejected"}',
    ]) {
      assert.equal(finding!.message.split(shape).length - 1, 1, `${shape} in: ${finding!.message}`);
    }
  });

  it('reports records that differ from the majority, and from a demanded format', () => {
    const lines = [chat('hello there', 'hi'), chat('how are you', 'fine'), '{"text": "plain"}'];
    const mixed = run(lines).filter((x) => x.rule === 'format/mixed');
    assert.deepEqual(
      mixed.map((x) => x.range.start.line),
      [2],
    );
    assert.match(mixed[0]!.message, /Text record.*most of this file is Messages/);
    const demanded = run(lines, { format: 'text' }).filter((x) => x.rule === 'format/mixed');
    assert.deepEqual(
      demanded.map((x) => x.range.start.line),
      [0, 1],
    );
  });
});

describe('schema rules', () => {
  it('maps missing, wrong-type and unknown fields', () => {
    // `input` is optional (LLaMA-Factory writes alpaca records without it); `output` is not.
    const lines = ['{"instruction": "Add", "input": 5, "inptu": "2+2"}'];
    const f = run(lines, { format: 'alpaca' });
    assert.deepEqual(rules(f), ['schema/missing-field', 'schema/unknown-field', 'schema/wrong-type']);
    const wrong = f.find((x) => x.rule === 'schema/wrong-type')!;
    assert.equal(covered(lines, wrong), '5');
    assert.match(wrong.message, /must be a string, not a number/);
    const unknown = f.find((x) => x.rule === 'schema/unknown-field')!;
    assert.equal(covered(lines, unknown), '"inptu"');
    const missing = f.find((x) => x.rule === 'schema/missing-field')!;
    assert.match(missing.message, /'output'/);
    assert.match(missing.message, /Add it\.$/);
  });

  it('tells metadata columns (a hint) from content training would drop (a warning)', () => {
    // The columns of public datasets (OpenHermes' source, category and views, UltraChat's prompt_id)
    // are metadata; another format's field, a misspelt field or a field in other case is content lost.
    const line = JSON.stringify({
      source: 'airoboros2.2',
      views: 12,
      category: 'orca',
      prompt_id: 'a1',
      idx: 3,
      system: 'Be brief.',
      mesages: [],
      Images: ['a.png'],
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
      ],
    });
    const f = run([line]);
    const byField = (rule: string) =>
      f
        .filter((x) => x.rule === rule)
        .map((x) => `${covered([line], x)} ${x.severity}`)
        .sort();
    assert.deepEqual(byField('schema/extra-field'), [
      '"category" hint',
      '"idx" hint',
      '"prompt_id" hint',
      '"source" hint',
      '"views" hint',
    ]);
    assert.deepEqual(byField('schema/unknown-field'), ['"Images" warning', '"mesages" warning', '"system" warning']);
    const message = (field: string) => f.find((x) => covered([line], x) === `"${field}"`)?.message ?? '';
    assert.match(message('mesages'), /did you mean 'messages'\?/);
    assert.match(message('Images'), /did you mean 'images'\?/);
    assert.match(message('system'), /do not read 'system' \(a field of other formats\): training ignores it/);
    assert.match(message('source'), /training ignores it/);
    // Metadata does not cost a record its acceptance; and a user who wants none can raise the rule.
    const v = new DatasetValidator(options());
    v.update(0, 0, [line]);
    assert.equal(v.stats().acceptance, 1);
    const strict = run([line], {
      severityOf: (rule) => (rule === 'schema/extra-field' ? 'error' : effectiveSeverity(rule)),
    });
    assert.equal(strict.filter((x) => x.severity === 'error').length, 5);
  });

  it("keeps every field a Datanet's record schema forbids an unknown-field warning", () => {
    const schema = { type: 'object', properties: { text: { type: 'string' } }, additionalProperties: false };
    const f = run(['{"text": "hello", "source": "web"}'], { recordSchema: schema });
    assert.deepEqual(
      f
        .filter((x) => x.rule.startsWith('schema/'))
        .map((x) => `${x.rule} ${x.severity}`)
        .sort(),
      ['schema/extra-field hint', 'schema/unknown-field warning'],
    );
    assert.match(
      f.find((x) => x.rule === 'schema/unknown-field')!.message,
      /^Datanet records do not define the field 'source'/,
    );
  });

  it('says when ShareGPT turns are written as OpenAI messages, and what to rename', () => {
    const f = run([
      '{"conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}',
    ]);
    const missing = f.filter((x) => x.rule === 'schema/missing-field');
    assert.equal(missing.length, 4);
    for (const m of missing)
      assert.match(m.message, /written as an OpenAI message \(role, content\): rename 'conversations' to 'messages'/);
    const fixed = run(['{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}']);
    assert.deepEqual(
      fixed.filter((x) => x.severity === 'error'),
      [],
    );
  });

  it('accepts preference sides as strings or message lists, and reports other types', () => {
    const ok = [
      '{"prompt": "Say hi", "chosen": "Hi!", "rejected": "No."}',
      '{"prompt": [{"role": "user", "content": "Name a color"}], "chosen": [{"role": "assistant", "content": "Blue."}], "rejected": [{"role": "assistant", "content": "Seven."}]}',
    ];
    assert.deepEqual(run(ok), []);
    const bad = ['{"prompt": "Say hi", "chosen": 3, "rejected": "No."}'];
    const f = run(bad);
    assert.deepEqual(rules(f), ['schema/wrong-type']);
    assert.equal(covered(bad, f[0]!), '3');
  });

  it('applies a Datanet record schema on top of the format', () => {
    const schema = { type: 'object', required: ['source'], properties: { source: { type: 'string' } } };
    const f = run(['{"text": "hello"}'], { recordSchema: schema });
    assert.ok(f.some((x) => x.rule === 'schema/missing-field' && /'source'/.test(x.message)));
  });
});

describe('messages rules', () => {
  it('suggests OpenAI roles for ShareGPT names, with data for the code action', () => {
    const lines = [
      JSON.stringify({
        messages: [
          { role: 'human', content: 'hi' },
          { role: 'gpt', content: 'hello' },
        ],
      }),
    ];
    const f = run(lines).filter((x) => x.rule === 'messages/unknown-role');
    assert.equal(f.length, 2);
    assert.equal(f[0]!.message, "Role 'human' is not an OpenAI role: use 'user'.");
    assert.deepEqual(f[0]!.data, { role: 'human', suggestion: 'user' });
    assert.equal(covered(lines, f[1]!), '"gpt"');
    assert.deepEqual(f[1]!.data, { role: 'gpt', suggestion: 'assistant' });
  });

  it('checks ShareGPT speakers the other way round', () => {
    const lines = ['{"conversations": [{"from": "user", "value": "hi"}, {"from": "gpt", "value": "hello"}]}'];
    const f = run(lines);
    assert.deepEqual(rules(f), ['messages/unknown-role']);
    assert.deepEqual(f[0]!.data, { role: 'user', suggestion: 'human' });
    assert.deepEqual(
      run(['{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}']),
      [],
    );
  });

  it('reports a conversation without an assistant turn', () => {
    assert.deepEqual(rules(run(['{"messages": [{"role": "user", "content": "hi"}]}'])), ['messages/no-assistant']);
    assert.deepEqual(rules(run(['{"conversations": [{"from": "human", "value": "hi"}]}'])), ['messages/no-assistant']);
  });

  it('reports empty content but allows a tool-calling assistant turn without text', () => {
    const empty = run([chat('hi', '   ')]);
    assert.deepEqual(rules(empty), ['messages/empty-content']);
    const toolCall = JSON.stringify({
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: '18C and sunny' },
        { role: 'assistant', content: 'It is 18C and sunny in Paris.' },
      ],
    });
    assert.deepEqual(run([toolCall]), []);
  });

  it('reports turns out of order', () => {
    const order = (roles: string[]): string[] =>
      rules(run([JSON.stringify({ messages: roles.map((role, i) => ({ role, content: `turn ${i}` })) })]));
    assert.deepEqual(order(['system', 'user', 'assistant', 'user', 'assistant']), []);
    assert.deepEqual(order(['user', 'system', 'assistant']), ['messages/role-order']);
    assert.deepEqual(order(['user', 'user', 'assistant']), ['messages/role-order']);
    assert.deepEqual(order(['assistant', 'user', 'assistant']), ['messages/role-order']);
    assert.deepEqual(order(['user', 'tool', 'assistant']), ['messages/role-order']);
  });
});

describe('content and length rules', () => {
  it('reports empty outputs, texts and chosen answers', () => {
    assert.deepEqual(rules(run(['{"instruction": "Add 2+2", "input": "", "output": ""}'])), ['content/empty']);
    assert.deepEqual(run(['{"instruction": "Add 2+2", "input": "", "output": "4"}']), []);
    assert.ok(rules(run(['{"text": ""}'])).includes('content/empty'));
    assert.deepEqual(rules(run(['{"prompt": "q", "chosen": "", "rejected": "no"}'])), ['content/empty']);
  });

  it('reports records over the token limit and under the minimum length', () => {
    const long = JSON.stringify({ text: 'word '.repeat(200) });
    assert.deepEqual(rules(run([long], { maxTokens: 100 })), ['length/too-long']);
    assert.deepEqual(run([long], { maxTokens: 1000 }), []);
    assert.deepEqual(rules(run(['{"text": "hey"}'], { minChars: 10 })), ['length/too-short']);
    assert.deepEqual(run(['{"text": "hey there, friend"}'], { minChars: 10 }), []);
  });
});

describe('dedup rules', () => {
  it('reports exact duplicates against the first occurrence, ignoring formatting and key order', () => {
    const lines = [
      chat('What is 2+2?', 'Four.'),
      '{"text": "other"}',
      '{ "messages" : [ {"content": "What is 2+2?", "role": "user"}, {"role":"assistant","content":"Four."} ] }',
      chat('What is 2+2?', 'Four.'),
    ];
    const f = run(lines, { format: undefined }).filter((x) => x.rule === 'dedup/exact');
    assert.deepEqual(
      f.map((x) => [x.range.start.line, x.data?.duplicateOf]),
      [
        [2, 0],
        [3, 0],
      ],
    );
    assert.match(f[0]!.message, /line 1/);
  });

  it('moves the duplicate finding when the first occurrence is deleted', () => {
    const v = new DatasetValidator(options());
    v.update(0, 0, [chat('a b c d', 'e f g'), chat('x y z', 'w'), chat('a b c d', 'e f g'), chat('a b c d', 'e f g')]);
    v.update(0, 1, []);
    const f = v.findings().filter((x) => x.rule === 'dedup/exact');
    assert.deepEqual(
      f.map((x) => [x.range.start.line, x.data?.duplicateOf]),
      [[2, 1]],
    );
  });

  it('reports near duplicates with their estimated similarity, and not unrelated records', () => {
    const base =
      'Explain how photosynthesis converts light energy into chemical energy stored in glucose molecules inside the chloroplasts of green plant cells during the day';
    const lines = [
      chat(base, 'Plants capture light with chlorophyll and build sugar from carbon dioxide and water.'),
      chat(
        base.replace('during the day', 'during daytime'),
        'Plants capture light with chlorophyll and build sugar from carbon dioxide and water.',
      ),
      chat(
        'Write a haiku about the sea at night under a full moon',
        'Silver waves whisper, the moon walks on the water, night breathes salt and foam.',
      ),
    ];
    const f = run(lines).filter((x) => x.rule === 'dedup/near');
    assert.equal(f.length, 1);
    assert.equal(f[0]!.range.start.line, 1);
    assert.equal(f[0]!.data?.duplicateOf, 0);
    assert.ok((f[0]!.data?.similarity as number) >= 0.8);
  });
});

describe('PII and secrets', () => {
  const scan = (text: string): Finding[] =>
    run([JSON.stringify({ text })]).filter((f) => /^(pii|secret)\//.test(f.rule));

  it('finds emails and phone numbers at the exact substring, after emoji', () => {
    const lines = [
      JSON.stringify({ text: '😀🎉 write to jane.doe+ml@mail.acme-corp.org or call +44 20 7946 0958, (212) 555-2368' }),
    ];
    const f = run(lines).filter((x) => x.rule.startsWith('pii/'));
    assert.deepEqual(f.map((x) => covered(lines, x)).sort(), [
      '(212) 555-2368',
      '+44 20 7946 0958',
      'jane.doe+ml@mail.acme-corp.org',
    ]);
  });

  it('does not treat a JSON escape letter as part of an address', () => {
    const lines = [JSON.stringify({ text: 'line one\nbob@corp.acme-corp.com' })];
    const f = run(lines).filter((x) => x.rule === 'pii/email');
    assert.equal(covered(lines, f[0]!), 'bob@corp.acme-corp.com');
  });

  it('falls back to the string value when an address hides behind \\u escapes', () => {
    const lines = ['{"text": "mail bob\\u0040corp.acme-corp.com"}'];
    const f = run(lines).filter((x) => x.rule === 'pii/email');
    assert.equal(f.length, 1);
    assert.equal(covered(lines, f[0]!), '"mail bob\\u0040corp.acme-corp.com"');
  });

  it('places an address hidden behind \\u escapes on its own string, deep in a conversation', () => {
    const hidden = '"mail bob\\u0040corp.acme-corp.com"';
    const lines = [
      `{"messages": [{"role": "user", "content": "hi \\u00e9"}, {"role": "assistant", "content": ${hidden}}], "id": "x"}`,
    ];
    const f = run(lines).filter((x) => x.rule === 'pii/email');
    assert.deepEqual(
      f.map((x) => covered(lines, x)),
      [hidden],
    );
  });

  it('raises no false alarms on versions, IPs, URLs, decorators, dates, times, ISBNs, ids, hashes and UUIDs', () => {
    const benign = [
      'Upgrade to 1.2.3.4 or 10.0.19041.1234',
      'Server at 192.168.100.254 and 10.0.0.1',
      'See https://example.com/path?q=1&x=2 and http://localhost:8080/api',
      'Use @decorator and @Component, or @ alone, or a@b in numpy',
      'Released on 2024-01-15 at 13:45:30, ends 2024/12/31',
      'ISBN 978-0-306-40615-7 and ISBN 0-306-40615-2',
      'order_id 12345678901234 and 4111111111111111',
      'sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'uuid 123e4567-e89b-12d3-a456-426614174000',
      'icon@2x.png and sk-learn is a typo, hf_hub_download is a function, AKIAIOSFODNN7EXAMPLE',
      'ghp_short and sk-ant-not-a-key',
    ];
    for (const text of benign) assert.deepEqual(scan(text), [], text);
    const withId = run(['{"order_id": 123456789012345, "phone_like_id": "2024-555-0143", "text": "fine"}']);
    assert.deepEqual(
      withId.filter((f) => /^(pii|secret)\//.test(f.rule)),
      [],
    );
  });

  it('still reports user@host.domain addresses inside code blocks', () => {
    assert.deepEqual(rules(scan('```\ngit clone git@github.com:org/repo.git\nssh deploy@build.acme-corp.net\n```')), [
      'pii/email',
      'pii/email',
    ]);
  });

  it('finds provider keys and tokens', () => {
    const keys: Record<string, string> = {
      aws: 'AKIA2JQWERTY7KLMN3PQ',
      github: 'ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8',
      githubPat: 'github_pat_11ABCDEFG0abcdefghijkl_' + 'aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5oQ7sU9wY1aC3eG5iK7mO9qS',
      openai: 'sk-proj-Ab3De5Gh7Jk9Mn1Pq3St5Vx7Za9Ce1Gi3Km5Oq7Su9',
      anthropic:
        'sk-ant-api03-' +
        'Xy7Qw3Er5Ty9Ui1Op3As5Df7Gh9Jk1Lz3Xc5Vb7Nm9Qa2Ws4Ed6Rf8Tg0Yh2Uj4Ik6Ol8Pz1Xs3Dc5Fv7Gb9Hn1Jm3Kq5',
      hf: 'hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh',
      slack: 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
      google: 'AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q',
      stripe: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
      jwt: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
    };
    for (const [name, key] of Object.entries(keys)) {
      const lines = [JSON.stringify({ text: `config: ${key} end` })];
      const f = run(lines).filter((x) => x.rule === 'secret/api-key');
      assert.equal(f.length, 1, name);
      assert.equal(covered(lines, f[0]!), key, name);
    }
  });

  it('finds PEM private key blocks', () => {
    const lines = [
      JSON.stringify({
        text: 'key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n',
      }),
    ];
    const f = run(lines).filter((x) => x.rule === 'secret/private-key');
    assert.equal(f.length, 1);
    assert.match(covered(lines, f[0]!), /^-----BEGIN RSA PRIVATE KEY-----.*-----END RSA PRIVATE KEY-----$/);
    assert.deepEqual(scan('-----BEGIN PUBLIC KEY----- is fine'), []);
  });
});

describe('severities', () => {
  it('silences rules that are off and applies overrides', () => {
    const lines = ['   ', '{"text": "mail a.b@acme-corp.com"}'];
    const f = run(lines, {
      severityOf: (rule) => effectiveSeverity(rule, { 'jsonl/blank-line': 'off', 'pii/*': 'error' }),
    });
    assert.deepEqual(
      f.map((x) => [x.rule, x.severity]),
      [['pii/email', 'error']],
    );
  });
});

describe('UTF-16 ranges', () => {
  it('counts surrogate pairs as two columns before an invalid token', () => {
    const lines = ['{"text": "😀😀", oops}'];
    const f = run(lines);
    assert.equal(f[0]!.rule, 'jsonl/invalid-json');
    assert.equal(f[0]!.range.start.character, '{"text": "😀😀", '.length);
    assert.equal(covered(lines, f[0]!)[0], 'o');
  });

  it('locates a wrong role after emoji and U+2028 in strings', () => {
    const lines = ['{"messages": [{"role": "user", "content": "🙂\u2028ok"}, {"role": "bot", "content": "yes"}]}'];
    const f = run(lines).filter((x) => x.rule === 'messages/unknown-role');
    assert.equal(covered(lines, f[0]!), '"bot"');
  });
});

describe('messages without content', () => {
  it('reports a user message that has no content field', () => {
    const lines = ['{"messages": [{"role": "user"}, {"role": "assistant", "content": "hello"}]}'];
    const f = run(lines);
    assert.deepEqual(rules(f), ['messages/empty-content']);
    assert.equal(covered(lines, f[0]!), '{"role": "user"}');
  });
});
