// The real language server on a hostile or unlucky workspace (SECURITY.md, "Hostile workspace"): record
// schemas and model files that are devices, FIFOs or links out of the Datanet, pathological globs, deep
// nesting, 40,000-key YAML, UTF-16 on disk and link cycles under a daily cap. Every document gets its
// diagnostics (the harness gives up after 20 s: a hang fails), the findings say what was refused, and the
// process's peak memory stays bounded.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { byRule, open, startServer, type ServerHandle } from './harness';
import { ValidateFileRequest } from '../../server/src/protocol';

/** Peak resident memory the server may reach over all the cases (the unbounded reads reached 6 GB). */
const MAX_RSS_MB = 600;

const record = (text: string) => JSON.stringify({ text });

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

describe('language server on a hostile workspace', () => {
  let server: ServerHandle;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mf-lsp-hostile-'));
    server = await startServer();
  });
  after(async () => {
    const rss = peakRssMb(server.process.pid!);
    await server.stop();
    process.stdout.write(`# language server peak memory over the hostile cases: ${rss.toFixed(0)} MB\n`);
    assert.ok(rss < MAX_RSS_MB, `peak memory ${rss.toFixed(0)} MB, over ${MAX_RSS_MB} MB`);
  });

  it('refuses record schemas that are FIFOs, devices or outside the Datanet, and disk work still answers', async () => {
    // Four FIFOs used to take every libuv thread, after which nothing that touches the disk answered.
    const cases: Record<string, string> = {
      fifo1: 'schema.json',
      fifo2: 'schema.json',
      fifo3: 'schema.json',
      fifo4: 'schema.json',
      zero: '/dev/zero',
      passwd: '/etc/passwd',
    };
    const messages: string[] = [];
    for (const [name, schema] of Object.entries(cases)) {
      const sub = join(dir, 'schemas', name);
      mkdirSync(sub, { recursive: true });
      if (name.startsWith('fifo')) spawnSync('mkfifo', [join(sub, 'schema.json')]);
      const text = `name: ${name}\nfiles: ["*.jsonl"]\nrecord_schema: ${schema}\n`;
      writeFileSync(join(sub, 'datanet.yaml'), text);
      const { diagnostics } = await open(server, join(sub, 'datanet.yaml'), text, 'yaml');
      messages.push(diagnostics.map((d) => d.message).join(' '));
    }
    for (const m of messages.slice(0, 4)) assert.match(m, /not used: .*FIFO/);
    assert.match(messages[4]!, /not used: .*outside/);
    assert.match(messages[5]!, /not used: .*outside/);
    assert.doesNotMatch(messages.join('\n'), /root:x:0:0/);
    // A dataset governed by a FIFO schema is still checked.
    const data = join(dir, 'schemas', 'fifo1', 'a.jsonl');
    const text = [record('fine'), '{"text": 1}'].join('\n');
    writeFileSync(data, text);
    const { diagnostics } = await open(server, data, text);
    assert.deepEqual(byRule(diagnostics).get('schema/wrong-type'), [1]);
  });

  it('answers validateFile on /dev/zero and on a FIFO with an error that says why', async () => {
    spawnSync('mkfifo', [join(dir, 'pipe.jsonl')]);
    for (const [path, reason] of [
      ['/dev/zero', /not a regular file/],
      [join(dir, 'pipe.jsonl'), /FIFO/],
    ] as const) {
      await assert.rejects(server.connection.sendRequest(ValidateFileRequest, { path }), reason);
    }
  });

  it('reads no model config.json that is a link to /dev/zero or a FIFO, and says so on base_model', async () => {
    for (const [name, make] of [
      ['zero-model', (p: string) => symlinkSync('/dev/zero', p)],
      ['fifo-model', (p: string) => spawnSync('mkfifo', [p])],
    ] as const) {
      mkdirSync(join(dir, name));
      make(join(dir, name, 'config.json'));
      const path = join(dir, `${name}.finetune.yaml`);
      const text = `base_model: ./${name}\ndataset:\n  path: data.jsonl\n`;
      writeFileSync(path, text);
      const { diagnostics } = await open(server, path, text, 'yaml');
      const model = diagnostics.find((d) => d.code === 'config/model-unknown');
      assert.match(
        String(model?.message ?? ''),
        /config\.json is (a device|a FIFO).*not a regular file/,
        JSON.stringify(diagnostics),
      );
    }
  });

  it('refuses a pathological glob on the manifest and keeps answering', async () => {
    const sub = join(dir, 'globs');
    mkdirSync(sub);
    const text = `name: globs\nfiles:\n  - "${'**a'.repeat(12)}**b"\n  - "[z-a]"\n  - "*.jsonl"\n`;
    writeFileSync(join(sub, 'datanet.yaml'), text);
    const name = join(sub, 'a'.repeat(40) + '.jsonl');
    const data = [record('fine'), '{"text": 1}'].join('\n');
    writeFileSync(name, data);
    const manifest = await open(server, join(sub, 'datanet.yaml'), text, 'yaml');
    assert.deepEqual(
      manifest.diagnostics.map((d) => d.range.start.line),
      [2, 3],
      JSON.stringify(manifest.diagnostics),
    );
    const { diagnostics } = await open(server, name, data);
    assert.deepEqual(byRule(diagnostics).get('schema/wrong-type'), [1]);
  });

  it('reports a 5,000-deep line and still checks, hovers and fixes the rest of the file', async () => {
    const path = join(dir, 'deep.jsonl');
    const text = [record('ok'), '['.repeat(5000) + ']'.repeat(5000), '{"text": 1}'].join('\n');
    const { uri, diagnostics } = await open(server, path, text);
    const rules = byRule(diagnostics);
    assert.deepEqual(rules.get('jsonl/too-deep'), [1]);
    assert.deepEqual(rules.get('schema/wrong-type'), [2]);
    const hover = await server.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 2, character: 3 },
    });
    assert.notEqual(hover, undefined);
  });

  it('lints a 40,000-key config (with a duplicate key) without stalling', async () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `  k${i}: ${i}`);
    const text = `base_model: builtin:tiny-llama\nextra:\n${keys.join('\n')}\n  k7: again\n`;
    const path = join(dir, 'keys.finetune.yaml');
    writeFileSync(path, text);
    const { diagnostics } = await open(server, path, text, 'yaml');
    assert.ok(
      diagnostics.some((d) => /Map keys must be unique/.test(String(d.message)) && d.range.start.line === 40_002),
    );
    // And the server still answers another document at once.
    const other = await open(server, join(dir, 'after.jsonl'), '{"text": 2}');
    assert.ok(byRule(other.diagnostics).has('schema/wrong-type'));
  });

  it('names a UTF-16 file on disk as UTF-16', async () => {
    const path = join(dir, 'utf16.jsonl');
    const text = record('hello') + '\n';
    writeFileSync(path, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    const { diagnostics } = await open(server, path, text);
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      ['encoding/utf16'],
    );
    assert.doesNotMatch(String(diagnostics[0]!.message), /Latin-1|invalid UTF-8/);
  });

  it('follows no link under a daily cap: a cycle and links out are not counted', async () => {
    const sub = join(dir, 'daily');
    mkdirSync(join(sub, 'data'), { recursive: true });
    writeFileSync(join(sub, 'datanet.yaml'), 'name: caps\nfiles: ["**/*.jsonl"]\nlimits:\n  daily_files: 1\n');
    symlinkSync('..', join(sub, 'data', 'up'));
    symlinkSync('.', join(sub, 'data', 'self'));
    symlinkSync('/usr/lib', join(sub, 'data', 'out'));
    const path = join(sub, 'data', 'a.jsonl');
    const text = record('fine');
    writeFileSync(path, text);
    symlinkSync(path, join(sub, 'data', 'b.jsonl'));
    writeFileSync(join(sub, 'data', 'c.jsonl'), record('also fine'));
    const { diagnostics } = await open(server, path, text);
    // Two real files today, over the cap of one: the count names exactly those two.
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      ['datanet/daily-files'],
    );
    assert.match(String(diagnostics[0]!.message), /^2 files were contributed/);
    assert.equal(server.process.exitCode, null, server.stderr());
  });
});
