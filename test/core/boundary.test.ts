// The language-service core is shared by the LSP shell and the CLI: it must not import VS Code,
// an LSP runtime, or Node's file system (I/O is injected).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const CORE = join(__dirname, '..', '..', 'server', 'src', 'core');
const FORBIDDEN =
  /from\s+['"](vscode|vscode-languageserver(\/[^'"]*)?|vscode-languageclient[^'"]*|(node:)?fs(\/promises)?|(node:)?child_process)['"]/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('core boundary', () => {
  it('no core module imports vscode, an LSP runtime, fs or child_process', () => {
    const all = files(CORE);
    assert.ok(all.length > 20, 'the core has its modules');
    const offenders = all.filter((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .some((line) => !line.trimStart().startsWith('import type') && FORBIDDEN.test(line)),
    );
    assert.deepEqual(offenders, []);
  });
});
