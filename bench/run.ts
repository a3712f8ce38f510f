// `npm run bench`: every PERF.md target of the language-service side, each measured against a floor
// or stated absolutely, in one run on this machine. BENCH_QUICK=1 shrinks the inputs for a smoke run.
import { benchConfig } from './config';
import { benchDataset, type BenchRow } from './dataset';
import { benchLspEdit } from './lsp';
import { benchExactTokens } from './tokens';

function print(rows: BenchRow[]): void {
  for (const r of rows) {
    const verdict = r.pass === undefined ? '' : r.pass ? '  PASS' : '  MISS';
    const value = r.unit === 'ratio' ? r.value.toFixed(2) + 'x' : `${r.value.toFixed(r.value < 10 ? 2 : 1)} ${r.unit}`;
    console.log(`${r.name.padEnd(58)} ${value.padStart(12)}${r.target ? `  (target ${r.target})${verdict}` : ''}`);
    if (r.detail) console.log(`${''.padEnd(60)}${r.detail}`);
  }
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
  const rows = [
    ...(await benchDataset()),
    ...(await benchLspEdit()),
    ...(await benchConfig()),
    ...(await benchExactTokens()),
  ];
  print(rows);
  const missed = rows.filter((r) => r.pass === false);
  console.log(
    missed.length === 0
      ? 'all targets met'
      : `${missed.length} target(s) missed: ${missed.map((r) => r.name).join('; ')}`,
  );
}

void main();
