// LineCapSink against a model written the obvious way: split the whole input on CR and LF, replace
// each line longer than the cap by its marker, keep the line ends. The sink must produce the same
// bytes whatever the chunking, the line ends and the cap (its line-end search is the engine's indexOf,
// one per kind of end, not a byte loop: this holds that search to the model).
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { LINE_TOO_LONG_MARKER, LineCapSink } from '../../server/src/core/dataset/lineCap';
import type { DatasetStats } from '../../server/src/core/dataset/stats';
import { fuzzSeed, seededRandom } from '../fuzz/seeded';

const encoder = new TextEncoder();

function model(input: Uint8Array, cap: number): Uint8Array {
  const out: number[] = [];
  let start = 0;
  const flush = (end: number) => {
    if (end - start > cap) out.push(...encoder.encode(`${LINE_TOO_LONG_MARKER}${end - start}:${cap}`));
    else out.push(...input.subarray(start, end));
  };
  for (let i = 0; i < input.length; i++) {
    if (input[i] !== 0x0a && input[i] !== 0x0d) continue;
    flush(i);
    out.push(input[i] as number);
    start = i + 1;
  }
  if (start < input.length) flush(input.length);
  return Uint8Array.from(out);
}

async function throughSink(input: Uint8Array, cap: number, cuts: number[]): Promise<Uint8Array> {
  const pushed: Uint8Array[] = [];
  const inner = {
    push: (chunk: Uint8Array) => void pushed.push(Uint8Array.from(chunk)),
    end: () => undefined,
    stats: () => ({}) as DatasetStats,
  };
  const sink = new LineCapSink(inner, cap, () => assert.fail('not UTF-16'));
  let from = 0;
  for (const cut of [...cuts, input.length]) {
    await sink.push(input.subarray(from, cut));
    from = cut;
  }
  await sink.end();
  const total = pushed.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pushed) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('LineCapSink', () => {
  test('equals the split-and-replace model over random inputs, chunkings and caps', async () => {
    const seed = fuzzSeed(4242);
    const rand = seededRandom(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    let replaced = 0;
    for (let round = 0; round < 400; round++) {
      const parts: string[] = [];
      const lines = Math.floor(rand() * 12);
      for (let l = 0; l < lines; l++) {
        parts.push('x'.repeat(Math.floor(rand() * (rand() < 0.2 ? 80 : 12))));
        parts.push(pick(['\n', '\r\n', '\r', '\n\n', '\r\r\n']));
      }
      if (rand() < 0.5) parts.push('y'.repeat(Math.floor(rand() * 40)));
      const input = encoder.encode(parts.join(''));
      const cap = 1 + Math.floor(rand() * 30);
      const cuts: number[] = [];
      for (let at = 0; at < input.length; at += 1 + Math.floor(rand() * 25)) if (at > 0) cuts.push(at);
      const expected = model(input, cap);
      if (expected.length !== input.length) replaced++;
      assert.deepEqual(await throughSink(input, cap, cuts), expected, `seed ${seed}, round ${round}`);
    }
    // The inputs do exercise the cap: many rounds replace a line.
    assert.ok(replaced > 100, `only ${replaced} rounds replaced a line`);
  });
});
