// Bytes on disk: BOM, CRLF, lone CR, U+2028, invalid UTF-8, chunk boundaries, for checkEncoding and
// the streaming validator; and agreement between the stream and the editor validator.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareFindings } from '../../server/src/core/dataset/context';
import { checkEncoding } from '../../server/src/core/dataset/encoding';
import { DatasetStream } from '../../server/src/core/dataset/stream';
import { DatasetValidator } from '../../server/src/core/dataset/validator';
import { decodeAsciiOnNode } from '../../server/src/nodeFs';
import type { DatasetValidatorOptions } from '../../server/src/core/dataset/validator';
import type { Finding } from '../../server/src/core/types';
import { validatorOptions } from './options';

const opts: DatasetValidatorOptions = validatorOptions({ nearThreshold: 0.8 });

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const concat = (...parts: (Uint8Array | number[])[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** `decodeAscii`: the Node hosts' ASCII fast path (nodeEnvironment), else TextDecoder for every block. */
function stream(bytes: Uint8Array, chunkSize = 1 << 20, decodeAscii = false): { findings: Finding[]; lines: number } {
  const findings: Finding[] = [];
  const s = new DatasetStream(decodeAscii ? { ...opts, decodeAscii: decodeAsciiOnNode } : opts, (f) =>
    findings.push(f),
  );
  for (let i = 0; i < bytes.length; i += chunkSize) s.push(bytes.subarray(i, i + chunkSize));
  s.end();
  return { findings: findings.sort(compareFindings), lines: s.stats().lines };
}

const at = (f: Finding): string => `${f.rule}@${f.range.start.line}:${f.range.start.character}`;

describe('checkEncoding', () => {
  it('reports a BOM, and nothing for clean LF or CRLF files', () => {
    assert.deepEqual(checkEncoding(concat([0xef, 0xbb, 0xbf], utf8('{"text":"a"}\n'))).map(at), ['encoding/bom@0:0']);
    assert.deepEqual(checkEncoding(utf8('{"text":"a"}\n{"text":"b"}\n')), []);
    assert.deepEqual(checkEncoding(utf8('{"text":"a"}\r\n{"text":"b"}\r\n')), []);
  });

  it('reports the first line ending that differs, at the end of its line', () => {
    const f = checkEncoding(utf8('{"text":"a"}\r\n{"text":"bb"}\n{"text":"c"}\r{"text":"d"}'));
    assert.deepEqual(f.map(at), ['encoding/mixed-eol@1:13']);
    assert.deepEqual(f[0]!.data, { eol: 'LF', expected: 'CRLF' });
  });

  it('reports invalid bytes at UTF-16 columns, after emoji and accented letters', () => {
    const bytes = concat(
      utf8('{"text":"a"}\n{"text":"😀é'),
      [0xff],
      utf8('x"}\n'),
      utf8('{"text":"'),
      [0xe2, 0x82],
      utf8('"}'),
    );
    assert.deepEqual(checkEncoding(bytes).map(at), ['encoding/invalid-utf8@1:12', 'encoding/invalid-utf8@2:9']);
  });

  it('treats U+2028 and U+2029 as ordinary characters', () => {
    assert.deepEqual(checkEncoding(utf8('{"text":"a\u2028b\u2029c"}\n{"text":"é"}\n')), []);
  });
});

describe('DatasetStream', () => {
  it('reports a BOM and validates the first record without it', () => {
    const { findings } = stream(concat([0xef, 0xbb, 0xbf], utf8('{"text":"hello"}\n')));
    assert.deepEqual(findings.map(at), ['encoding/bom@0:0']);
  });

  it('splits on LF, CRLF and lone CR, and reports the mixture once', () => {
    const { findings, lines } = stream(utf8('{"text":"a"}\n{"text":"b"}\r\n{"text":"c"}\r{"text":"d"}\n'));
    assert.equal(lines, 4);
    assert.deepEqual(findings.map(at), ['encoding/mixed-eol@1:12']);
    const crlf = stream(utf8('{"text":"a"}\r\n{"text":"b"}\r\n'));
    assert.deepEqual(crlf.findings, []);
    assert.equal(crlf.lines, 2);
  });

  it('keeps U+2028 inside a line', () => {
    const { findings, lines } = stream(utf8('{"text":"one\u2028two"}\n{"text":"three"}\n'));
    assert.deepEqual(findings, []);
    assert.equal(lines, 2);
  });

  it('reports invalid UTF-8 where checkEncoding does, and still validates the line', () => {
    const bytes = concat(utf8('{"text":"ok"}\n{"text":"😀'), [0xc3, 0x28], utf8('", "extra": 1}\n'));
    const { findings } = stream(bytes);
    const encodingFindings = findings.filter((f) => f.rule === 'encoding/invalid-utf8');
    assert.deepEqual(encodingFindings.map(at), checkEncoding(bytes).map(at));
    assert.deepEqual(encodingFindings.map(at), ['encoding/invalid-utf8@1:11']);
    assert.ok(findings.some((f) => f.rule === 'schema/extra-field' && f.range.start.line === 1));
  });

  it('gives the same findings for any chunking, CRLF split across chunks included', () => {
    const text =
      '\uFEFF{"messages":[{"role":"human","content":"😀 mail x.y@acme-corp.com"},{"role":"assistant","content":"ok"}]}\r\n' +
      '{"text":"a"}\r\n\r\n{"text": broken}\r\n{"text":"a"}\n{"instruction":"x","input":"","output":""}\r{"text":"é\u2028"}';
    const bytes = concat(utf8(text).subarray(0, 40), [0xff], utf8(text).subarray(40));
    const whole = stream(bytes).findings;
    assert.ok(whole.length >= 8);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), (size) => {
        assert.deepEqual(stream(bytes, size).findings, whole);
      }),
      { numRuns: 40 },
    );
  });

  it('decodes a large block in pieces and finds what small chunks find: invalid bytes, long lines, line endings', () => {
    // Blocks over 64 KiB are decoded a piece at a time, each ending after a line feed: a piece may
    // hold invalid UTF-8 (reported at its offset in the file), end in the middle of CRLF-ended lines,
    // or be one line longer than a piece; a run of CR-ended lines has no line feed to end a piece at.
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 3000; i++) {
      const eol = i % 7 === 0 ? '\r\n' : i % 11 === 0 ? '\r' : '\n';
      if (i === 1500) parts.push(concat(utf8('{"text":"bad '), [0xff], utf8('"}\n')));
      if (i === 2000) parts.push(utf8(JSON.stringify({ text: 'long '.repeat(30000) }) + '\n'));
      if (i === 2500) parts.push(utf8('{"text":"cr only"}\r'.repeat(8000)));
      parts.push(utf8(JSON.stringify({ text: `record ${i} héllo ${'x'.repeat(i % 50)}` }) + eol));
    }
    const bytes = concat(...parts);
    assert.ok(bytes.length > 4 * 64 * 1024);
    const small = stream(bytes, 4096);
    assert.deepEqual(stream(bytes), small);
    assert.deepEqual(stream(bytes, 1 << 20, true), small);
    const invalid = small.findings.filter((f) => f.rule === 'encoding/invalid-utf8');
    const expected = checkEncoding(bytes).filter((f) => f.rule === 'encoding/invalid-utf8');
    assert.deepEqual(invalid.map(at), expected.map(at));
    assert.deepEqual(invalid.map(at), ['encoding/invalid-utf8@1500:13']);
  });

  it('agrees with the editor validator on the same lines (except near duplicates, which the stream indexes by representative)', () => {
    const pool = [
      '{"text":"alpha beta gamma"}',
      '{"messages":[{"role":"user","content":"hi"},{"role":"gpt","content":"yo"}]}',
      '{"instruction":"Add","input":"1+1","output":"2"}',
      '',
      '{"text": oops}',
      '{"conversations":[{"from":"human","value":"q"},{"from":"gpt","value":""}]}',
      '{"text":"call +1-202-555-2368 or mail a@b.acme-corp.org"}',
      '{"prompt":"p","chosen":"","rejected":"r"}',
      '{"weird": true}',
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pool), { maxLength: 20 }), (lines) => {
        const text = lines.map((l) => l + '\n').join('');
        const v = new DatasetValidator(opts);
        v.update(0, 0, text.split('\n'));
        const expected = v
          .findings()
          .filter((f) => f.rule !== 'dedup/near')
          .sort(compareFindings);
        const got = stream(utf8(text)).findings.filter((f) => f.rule !== 'dedup/near');
        assert.deepEqual(got, expected);
      }),
      { numRuns: 60 },
    );
  });

  it('never throws on random bytes or truncated records', () => {
    const record = utf8('{"messages":[{"role":"user","content":"héllo 😀"},{"role":"assistant","content":"x"}]}\n');
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 0, max: record.length }),
        fc.integer({ min: 1, max: 50 }),
        (noise, cut, size) => {
          stream(concat(record.subarray(0, cut), noise, record), size);
          checkEncoding(concat(noise, record.subarray(0, cut)));
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('ASCII fast path', () => {
  it("the host's ASCII decoder takes ASCII bytes only, and the stream finds with it what it finds without", () => {
    assert.equal(decodeAsciiOnNode(utf8('{"text":"a"}\r\n')), '{"text":"a"}\r\n');
    assert.equal(decodeAsciiOnNode(new Uint8Array([0x61, 0x7f, 0x0a])), 'a\x7f\n');
    assert.equal(decodeAsciiOnNode(utf8('{"text":"é"}')), undefined);
    assert.equal(decodeAsciiOnNode(new Uint8Array([0x61, 0xff])), undefined);
    assert.equal(decodeAsciiOnNode(utf8('\uFEFF{"text":"a"}')), undefined);
    // The stream hands each block of whole lines to the host's decoder first.
    const decoded: string[] = [];
    const s = new DatasetStream(
      {
        ...opts,
        decodeAscii: (b) => {
          const text = decodeAsciiOnNode(b);
          if (text !== undefined) decoded.push(text);
          return text;
        },
      },
      () => {},
    );
    s.push(utf8('{"text":"a"}\n{"text":"b"}\n'));
    s.end();
    assert.deepEqual(decoded, ['{"text":"a"}\n{"text":"b"}\n']);
    // Blocks of ASCII lines, blocks with UTF-8, a BOM, invalid bytes and line endings of every kind,
    // cut into chunks of any size: the fast path may take some blocks and not others.
    const pool = [
      utf8('{"text":"alpha beta gamma"}\n'),
      utf8('{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}\r\n'),
      utf8('{"text":"héllo 😀 wörld"}\n'),
      utf8('{"text": oops}\r'),
      utf8('\n'),
      concat(utf8('{"text":"bad '), [0xff, 0xc3], utf8('"}\n')),
      utf8('{"text":"call +1-202-555-2368 or mail a@b.acme-corp.org"}\n'),
    ];
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.constantFrom(...pool), { maxLength: 24 }),
        fc.integer({ min: 1, max: 200 }),
        (bom, lines, size) => {
          const bytes = concat(bom ? [0xef, 0xbb, 0xbf] : [], ...lines);
          assert.deepEqual(stream(bytes, size, true), stream(bytes, size, false));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a record whose text is non-ASCII only through \\u escapes counts tokens as the editor does', () => {
    // The bytes are all ASCII, so the stream may take its ASCII shortcut per block; the decoded text
    // is Chinese and emoji, which the estimate counts per non-ASCII code unit. Both paths must agree.
    const escaped = (s: string) =>
      JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
    const lines = [
      `{"messages": [{"role": "user", "content": ${escaped('中文的问题是什么？')}}, {"role": "assistant", "content": ${escaped('答案 😀 在这里。')}}]}`,
      JSON.stringify({ text: 'plain ascii text that is long enough to have a few tokens' }),
      `{"text": ${escaped('é'.repeat(400))}}`,
    ];
    const bytes = utf8(lines.join('\n') + '\n');
    assert.ok(
      bytes.every((b) => b < 0x80),
      'the file is pure ASCII bytes',
    );
    const s = new DatasetStream(opts, () => {});
    s.push(bytes);
    s.end();
    const v = new DatasetValidator(opts);
    v.update(0, 0, lines);
    assert.deepEqual(s.stats().tokens, v.stats().tokens);
    const nonAsciiTokens = v.recordInfo(2)!.tokens!;
    assert.ok(
      nonAsciiTokens >= 400,
      `400 escaped non-ASCII characters count at least one token each, got ${nonAsciiTokens}`,
    );
  });
});
