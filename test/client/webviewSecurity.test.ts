// The webview rows of the security matrix (SECURITY.md rules 2 and 3) as plain-node tests, so they run in
// every `npm test` and fail when their guarantee breaks, chromium or not:
//   - every page's HTML comes from the one CSP'd shell, and that CSP is strict (no unsafe-inline, no
//     unsafe-eval, no wildcard or remote source, scripts only by a fresh 128-bit nonce);
//   - every panel hands its messages to its strict parser before its handler (receiveValidated);
//   - the hyperparameter panel's parser (and the other two) refuse a seeded stream of hostile messages:
//     unknown types, extra keys, wrong types, oversized and control-character strings, prototype keys,
//     deep nesting, and never throw.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { contentSecurityPolicy, createNonce, renderWebviewHtml } from '../../client/src/panels/html';
import { parseDashboardWebviewMessage } from '../../webviews/src/protocol/dashboard';
import { FIELDS, parseWebviewMessage, type WebviewMessage } from '../../webviews/src/protocol/hyperparameters';
import { parsePlaygroundWebviewMessage } from '../../webviews/src/protocol/playground';
import { parseEvaluationWebviewMessage } from '../../webviews/src/protocol/evaluation';
import { seededRandom } from '../fuzz/seeded';

const ROOT = resolve(__dirname, '..', '..');
const PANELS = join(ROOT, 'client', 'src', 'panels');
const BUNDLES = ['hyperparameters', 'dashboard', 'playground', 'evaluation'] as const;

function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name!, values]),
  );
}

describe('webview security matrix', () => {
  it('renders every page through the one CSP shell, with its strict parser in front of its handler', () => {
    const sources = readdirSync(PANELS)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => [f, readFileSync(join(PANELS, f), 'utf8')] as const);
    // The only assignment of webview HTML is the shell's, in webviewHost.ts.
    const assignments = sources.filter(([, text]) => /\.html\s*=/.test(text)).map(([f]) => f);
    assert.deepEqual(assignments, ['webviewHost.ts']);
    assert.match(sources.find(([f]) => f === 'webviewHost.ts')![1], /\.html = renderWebviewHtml\(/);
    for (const bundle of BUNDLES) {
      const owners = sources.filter(([, text]) => new RegExp(`renderInto\\([^)]*'${bundle}'`).test(text));
      assert.equal(owners.length, 1, `one panel renders ${bundle}`);
      assert.match(owners[0]![1], /receiveValidated\(panel\.webview, parse\w*WebviewMessage,/);
    }
    const clientSources = readdirSync(join(ROOT, 'client', 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => /webview\.html\s*=|\.html\s*=\s*`/.test(readFileSync(join(ROOT, 'client', 'src', f), 'utf8')));
    assert.deepEqual(clientSources, [join('panels', 'webviewHost.ts')]);
  });

  for (const bundle of BUNDLES) {
    it(`the ${bundle} page has a strict CSP: nothing inline, nothing evaluated, scripts only by nonce`, () => {
      const nonce = createNonce();
      const html = renderWebviewHtml({
        cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
        nonce,
        title: `<script>alert(1)</script> ${bundle}`,
        scriptUri: `https://file+.vscode-resource.vscode-cdn.net/dist/webviews/${bundle}.js`,
        styleUris: ['https://file+.vscode-resource.vscode-cdn.net/dist/webviews/codicons/codicon.css'],
      });
      const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html);
      assert.ok(meta, 'a CSP meta tag');
      const csp = meta[1]!.replace(/&#39;/g, "'");
      assert.equal(csp, contentSecurityPolicy('https://file+.vscode-resource.vscode-cdn.net', nonce));
      const d = directives(csp);
      assert.deepEqual(d.get('default-src'), ["'none'"]);
      assert.deepEqual(d.get('script-src'), [`'nonce-${nonce}'`]);
      assert.deepEqual(d.get('base-uri'), ["'none'"]);
      assert.deepEqual(d.get('form-action'), ["'none'"]);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|unsafe-hashes|wasm-unsafe-eval|\*|http:|ws:|strict-dynamic/);
      for (const [name, values] of d) {
        assert.ok(!values.includes('data:') || name === 'img-src', `data: only for images, not ${name}`);
      }
      const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]!);
      assert.equal(scripts.length, 1, 'one script tag: the bundle');
      assert.ok(scripts.every((attrs) => attrs.includes(`nonce="${nonce}"`) && /\ssrc="/.test(attrs)));
      assert.doesNotMatch(html, /\son\w+=/i, 'no inline handlers');
      assert.doesNotMatch(html, /<script>alert/, 'the title is escaped');
    });
  }

  it('draws a fresh 128-bit nonce for every render', () => {
    const nonces = new Set(Array.from({ length: 1000 }, () => createNonce()));
    assert.equal(nonces.size, 1000);
    for (const n of nonces) assert.equal(Buffer.from(n, 'base64').length, 16);
  });
});

/** A hostile value of any JSON shape, including the ones parsers trip over. */
function hostileValue(rand: () => number, depth = 0): unknown {
  const pick = Math.floor(rand() * 14);
  switch (pick) {
    case 0:
      return 'x'.repeat(Math.floor(rand() * 600_000));
    case 1:
      return '\u0000\u202e\ud800<img src=x onerror=alert(1)>';
    case 2:
      return [1e308, -0, Number.MAX_SAFE_INTEGER + 2, NaN, Infinity][Math.floor(rand() * 5)];
    case 3:
      return JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {}}}');
    case 4: {
      let v: unknown = 1;
      for (let i = 0; i < 1_500; i++) v = [v];
      return v;
    }
    case 5:
      return null;
    case 6:
      return depth < 3 ? Array.from({ length: Math.floor(rand() * 8) }, () => hostileValue(rand, depth + 1)) : [];
    case 7:
      return '../../../../etc/passwd';
    case 8:
      return { type: 'set' };
    case 9:
      return Math.floor(rand() * 1e9) - 5e8;
    case 10:
      return rand() < 0.5;
    case 11:
      return 'q_proj';
    case 12:
      return 'all-linear';
    default:
      return depth < 3 ? { [`k${Math.floor(rand() * 5)}`]: hostileValue(rand, depth + 1) } : {};
  }
}

function hostileMessage(rand: () => number): unknown {
  const types = ['ready', 'set', 'train', 'reveal', 'send', 'cancel', 'open', 'run', '__proto__', 'constructor', ''];
  const base: Record<string, unknown> = { type: types[Math.floor(rand() * types.length)] };
  const keys = ['path', 'value', 'line', 'text', 'uri', 'command', 'jobId', 'extra', '__proto__'];
  const n = Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) base[keys[Math.floor(rand() * keys.length)]!] = hostileValue(rand);
  if (rand() < 0.5) base['path'] = FIELDS[Math.floor(rand() * FIELDS.length)]!.path;
  // A webview's message reaches the host as JSON (VS Code serialises it): the same round trip here.
  return JSON.parse(JSON.stringify(rand() < 0.1 ? hostileValue(rand) : base) ?? 'null');
}

describe('hostile webview messages', () => {
  const seed = Number(process.env['MF_FUZZ_SEED'] ?? 15_015);
  const iterations = 3000;

  it(`refuses or strictly narrows ${iterations} seeded hostile messages per panel (seed ${seed}), never throwing`, () => {
    const rand = seededRandom(seed);
    const parsers = {
      hyperparameters: parseWebviewMessage,
      dashboard: parseDashboardWebviewMessage,
      playground: parsePlaygroundWebviewMessage,
      evaluation: parseEvaluationWebviewMessage,
    } as const;
    const accepted: Record<string, number> = { hyperparameters: 0, dashboard: 0, playground: 0, evaluation: 0 };
    for (let i = 0; i < iterations; i++) {
      const message = hostileMessage(rand);
      for (const [name, parse] of Object.entries(parsers)) {
        let result: unknown;
        assert.doesNotThrow(() => {
          result = (parse as (raw: unknown) => unknown)(message);
        }, `${name} threw on message ${i} (seed ${seed})`);
        if (result === null) continue;
        accepted[name]!++;
        // What passes is a plain object of known keys, small, and free of smuggled prototypes.
        const json = JSON.stringify(result);
        assert.ok(json.length < 64 * 1024, `${name} accepted ${json.length} bytes (message ${i}, seed ${seed})`);
        assert.equal(Object.getPrototypeOf(result), Object.prototype);
        assert.ok(!Object.hasOwn(result as object, '__proto__'));
        assert.doesNotMatch(json, /\\u0000|onerror|\.\.\//, `${name} accepted hostile text (seed ${seed})`);
      }
    }
    assert.equal(({} as { polluted?: boolean }).polluted, undefined, 'no prototype was polluted');
    // The generator does produce acceptable messages, so the checks above are exercised.
    assert.ok(accepted['hyperparameters']! > 0, JSON.stringify(accepted));
  });

  it('refuses each hostile shape of the hyperparameter panel by name', () => {
    const refused: unknown[] = [
      { type: 'run', command: 'rm -rf /' },
      { type: 'set', path: 'base_model', value: 'x'.repeat(501) },
      { type: 'set', path: 'base_model', value: 'gpt2\u0000' },
      { type: 'set', path: 'base_model', value: '' },
      { type: 'set', path: 'lora.r', value: 1.5 },
      { type: 'set', path: 'lora.r', value: '8' },
      { type: 'set', path: 'training.learning_rate', value: 1e308 },
      { type: 'set', path: 'lora.target_modules', value: Array(257).fill('q_proj') },
      { type: 'set', path: 'lora.target_modules', value: ['q_proj', 'q_proj'] },
      { type: 'set', path: 'lora.target_modules', value: ['q_proj; rm -rf'] },
      { type: 'set', path: 'method', value: 'full' },
      { type: 'set', path: 'base_model', value: null },
      { type: 'set', path: 'lora.r' },
      { type: 'train', extra: 1 },
      { type: 'reveal', line: -1 },
      { type: 'reveal', line: 1e12 },
      JSON.parse('{"type": "ready", "__proto__": {"x": 1}}'),
      'ready',
      null,
      [{ type: 'ready' }],
    ];
    for (const m of refused) assert.equal(parseWebviewMessage(m), null, JSON.stringify(m));
    const ok: WebviewMessage = { type: 'set', path: 'lora.r', value: 16 };
    assert.deepEqual(parseWebviewMessage(ok), ok);
  });
});
