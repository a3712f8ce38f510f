// Config lint latency: a 200-line fine-tune config linted as a fresh document version each time.
import { benchConfigLint } from '../test/config/benchConfig';
import type { BenchRow } from './dataset';

export async function benchConfig(runs = 300): Promise<BenchRow[]> {
  const lint = benchConfigLint();
  for (let i = 0; i < 50; i++) await lint();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await lint();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const p95 = times[Math.floor(times.length * 0.95)]!;
  return [
    {
      name: 'config lint, 200-line YAML (p95)',
      value: p95,
      unit: 'ms',
      target: '< 20 ms',
      pass: p95 < 20,
      detail: `median ${times[times.length >> 1]!.toFixed(2)} ms over ${runs} runs after 50 warm-up runs`,
    },
  ];
}
