// One-line-edit latency through the real language server process: a 10 MB JSONL document is opened
// over JSON-RPC, then single-line edits are sent and the time to the next publishDiagnostics is
// taken. The floor is the same round trip on a one-line document, measured in the same run, so the
// ratio says what the file's size costs.
import { join } from 'node:path';
import { ROOT, open, startServer, type ServerHandle } from '../test/lsp/harness';
import { generateSftJsonl, type BenchRow } from './dataset';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!;
}

async function editLatencies(
  server: ServerHandle,
  path: string,
  lines: string[],
  edits: number,
): Promise<{ openMs: number; times: number[] }> {
  const opened = performance.now();
  const { uri } = await open(server, path, lines.join('\n'));
  const openMs = performance.now() - opened;
  const times: number[] = [];
  for (let i = 0; i < edits; i++) {
    const line = Math.floor(((i + 0.5) * lines.length) / edits);
    const old = lines[line]!;
    // Alternate between a real change (a new question) and restoring the original line.
    const text = i % 2 === 0 ? old.replace('"content": "', '"content": "Edited: ') : old;
    const version = i + 2;
    const published = server.diagnostics(uri, version - 1);
    const started = performance.now();
    await server.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version },
      contentChanges: [{ range: { start: { line, character: 0 }, end: { line, character: old.length } }, text }],
    });
    await published;
    times.push(performance.now() - started);
    if (i % 2 === 1) lines[line] = old;
  }
  return { openMs, times };
}

export async function benchLspEdit(edits = 40): Promise<BenchRow[]> {
  const server = await startServer();
  try {
    const big = generateSftJsonl(10 * 1024 * 1024, 3);
    const tiny = generateSftJsonl(200, 4).slice(0, 1);
    const small = (await editLatencies(server, join(ROOT, 'bench-floor.jsonl'), tiny, edits)).times;
    const { openMs, times: large } = await editLatencies(server, join(ROOT, 'bench-10mb.jsonl'), big, edits);
    const floor = median(small);
    return [
      {
        name: 'LSP one-line edit, 10 MB document (median)',
        value: median(large),
        unit: 'ms',
        target: '< 20 ms',
        pass: median(large) < 20,
        detail: `p95 ${p95(large).toFixed(1)} ms over ${edits} edits, didChange to publishDiagnostics, real server process`,
      },
      {
        name: 'LSP one-line edit, 10 MB vs 1-line document',
        value: median(large) / floor,
        unit: 'ratio',
        detail: `floor ${floor.toFixed(2)} ms (same round trip on a one-line document); opening the 10 MB document took ${openMs.toFixed(0)} ms to first diagnostics`,
      },
    ];
  } finally {
    await server.stop();
  }
}
