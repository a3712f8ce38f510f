// Dataset validation benchmarks (PERF.md targets). Each target is reported as a ratio against a floor
// measured in the same run, or as an absolute figure where PERF.md states one.
//   node --import tsx bench/dataset.ts            all benchmarks
//   BENCH_QUICK=1 node --import tsx bench/dataset.ts   smaller inputs, for a smoke run
import { execFileSync, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BANDS, BINS, MinHasher, NearDuplicateIndex, ROWS } from '../server/src/core/dataset/dedupNear';
import { CrossRecordChecker, DatasetStream } from '../server/src/core/dataset/stream';
import type { BlockAnalysis, DatasetStreamOptions } from '../server/src/core/dataset/stream';
import { decodeAsciiOnNode } from '../server/src/nodeFs';
import { LineBatcher } from '../server/src/parallel/lineBatcher';
import { DatasetValidator } from '../server/src/core/dataset/validator';
import { jaccard, shingleSet } from './exactJaccard';
import { loadShipped } from './shipped';
import type * as validation from './validation';
import { benchOptions, validateInEditor, validateStreamed } from './validation';
import { DEFAULT_BATCH_BYTES, ParallelDatasetStream } from '../server/src/parallel/parallelStream';
import { DatasetWorkerPool, datasetWorkerCandidates } from '../server/src/parallel/pool';
import { seededRandom as prng } from '../test/fuzz/seeded';

export interface BenchRow {
  /** What was measured. */
  name: string;
  value: number;
  unit: string;
  /** The PERF.md target in words, when there is one. */
  target?: string;
  /** Whether the figure meets the target. */
  pass?: boolean;
  /** How the figure was obtained, or the floor it is compared with. */
  detail?: string;
}

export { benchOptions };

const QUICK = process.env.BENCH_QUICK === '1';
const MB = 1024 * 1024;

const VOCAB = (
  'the a model data training loss learning rate batch token adapter layer weight gradient memory ' +
  'question answer explain why how what when user system please help write code function python ' +
  'example result value error file dataset record format json line text output input instruction ' +
  'river mountain city history science music energy light water plant animal language number time ' +
  'simple quickly carefully because however therefore first second next finally also often never ' +
  'build test run check improve reduce increase compare describe summarise translate calculate'
).split(' ');

function sentence(rand: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(VOCAB[Math.floor(rand() * VOCAB.length)] ?? 'x');
  const s = out.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1) + '.';
}

/** About `bytes` of realistic SFT records in the messages format, with planted defects. */
export function generateSftJsonl(bytes: number, seed = 1): string[] {
  const rand = prng(seed);
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const r = rand();
    let line: string;
    if (r < 0.02 && lines.length > 10) {
      line = lines[Math.floor(rand() * lines.length)] ?? ''; // exact duplicate
    } else if (r < 0.04 && lines.length > 10) {
      const base = lines[Math.floor(rand() * lines.length)] ?? '';
      line = base.replace(/ the /, ' this ').replace(/ data /, ' information '); // near duplicate
    } else {
      const user = sentence(rand, 15 + Math.floor(rand() * 30));
      let assistant = sentence(rand, 40 + Math.floor(rand() * 60)) + ' ' + sentence(rand, 10 + Math.floor(rand() * 20));
      if (r < 0.045) assistant += ' Contact support at help.desk@acme-corp.com for more.';
      else if (r < 0.046) assistant += ' Use the key AKIA2JQWERTY7KLMN3PQ here.';
      else if (r < 0.05) assistant += ' Call +1-202-555-2368 today.';
      const messages: { role: string; content: string }[] = [];
      if (rand() < 0.3)
        messages.push({ role: 'system', content: 'You are a helpful assistant for machine learning engineers.' });
      messages.push({ role: 'user', content: user }, { role: 'assistant', content: assistant });
      line = JSON.stringify({ messages });
    }
    lines.push(line);
    size += line.length + 1;
  }
  return lines;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/**
 * `fn` run once untimed and then timed: each variant of an interleaved comparison is timed in its own
 * steady state. Timed straight after another variant, a run pays for collecting that variant's garbage
 * (streamed full validation: 79 ms right after the editor's validator had dropped its 10 MB of lines,
 * 69 ms after a stream; the same code). A forced collection instead (gc()) shrinks the young generation
 * and made every variant slower by about half again.
 */
function timeSteady(fn: () => void): number {
  fn();
  return time(fn);
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function floorParse(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.length > 0) {
      JSON.parse(line);
      n++;
    }
  }
  return n;
}

/** benchOptions for a stream, with the ASCII fast path the Node hosts give it (nodeEnvironment). */
function streamOptions(): DatasetStreamOptions {
  return { ...benchOptions(), decodeAscii: decodeAsciiOnNode };
}

type ValidationModule = typeof validation;
let shippedModule: ValidationModule | undefined;
/** bench/validation.ts as the product ships it (bench/shipped.ts), built once per run. */
function shipped(): ValidationModule {
  return (shippedModule ??= loadShipped<ValidationModule>('bench/validation.ts'));
}

export function benchFullValidation(reps = QUICK ? 3 : 7): BenchRow[] {
  const lines = generateSftJsonl(QUICK ? 2 * MB : 10 * MB);
  const text = lines.join('\n') + '\n';
  const bytes = new TextEncoder().encode(text);
  const mb = bytes.length / MB;
  const built = shipped();
  const floor: number[] = [];
  const editor: number[] = [];
  const streamed: number[] = [];
  const editorSources: number[] = [];
  const streamedSources: number[] = [];
  const editorNoNear: number[] = [];
  const editorNoDedup: number[] = [];
  // Interleaved repetitions, so that machine noise hits every variant alike.
  for (let r = 0; r < reps; r++) {
    floor.push(timeSteady(() => floorParse(text)));
    const found = [0, 0, 0, 0];
    editor.push(timeSteady(() => (found[0] = built.validateInEditor(text))));
    streamed.push(timeSteady(() => (found[1] = built.validateStreamed(bytes))));
    editorSources.push(timeSteady(() => (found[2] = validateInEditor(text))));
    streamedSources.push(timeSteady(() => (found[3] = validateStreamed(bytes))));
    editorNoNear.push(timeSteady(() => built.validateInEditor(text, ['dedup/near'])));
    editorNoDedup.push(timeSteady(() => built.validateInEditor(text, ['dedup/near', 'dedup/exact'])));
    // The bundle and the sources are the same code: each path must report as many findings both ways.
    if (found[0] !== found[2] || found[1] !== found[3])
      throw new Error(`the bundled and the source validation disagree: ${found.join(', ')}`);
  }
  const f = median(floor);
  const e = median(editor);
  const s = median(streamed);
  const share = (without: number) =>
    `${(without / f).toFixed(2)}x the floor; the rules left off cost ${(e - without).toFixed(0)} ms of the editor path's ${e.toFixed(0)} ms`;
  const sources = (t: number) => `; from the sources under tsx ${t.toFixed(1)} ms, ${(t / f).toFixed(2)}x`;
  return [
    {
      name: `floor: split + JSON.parse, ${mb.toFixed(1)} MB, ${lines.length} records`,
      value: f,
      unit: 'ms',
      detail: `median of ${reps}`,
    },
    {
      name: 'full validation, editor (DatasetValidator.update + findings)',
      value: e,
      unit: 'ms',
      target: 'within 5x of the floor',
      pass: e <= 5 * f,
      detail: `${(e / f).toFixed(2)}x the floor (the shipped bundle${sources(median(editorSources))})`,
    },
    {
      name: 'full validation, stream (DatasetStream from bytes, 1 MiB chunks)',
      value: s,
      unit: 'ms',
      target: 'within 5x of the floor',
      pass: s <= 5 * f,
      detail: `${(s / f).toFixed(2)}x the floor, UTF-8 decoding included (the shipped bundle${sources(median(streamedSources))})`,
    },
    {
      name: 'where it goes: editor path with dedup/near off',
      value: median(editorNoNear),
      unit: 'ms',
      detail: share(median(editorNoNear)),
    },
    {
      name: 'where it goes: editor path with dedup/near and dedup/exact off',
      value: median(editorNoDedup),
      unit: 'ms',
      detail: share(median(editorNoDedup)),
    },
  ];
}

/** Rule families left off one after another, for `bench/dataset.ts families`: what each adds to the editor path. */
const FAMILY_STEPS: readonly [string, readonly string[]][] = [
  ['every rule', []],
  ['without dedup/near', ['dedup/near']],
  ['and without dedup/exact', ['dedup/']],
  ['and without pii/*, secret/*', ['dedup/', 'pii/', 'secret/']],
  ['and without content/*, length/*', ['dedup/', 'pii/', 'secret/', 'content/', 'length/']],
  [
    'and without messages/*, schema/*, preference/*, media/*, format/*',
    ['dedup/', 'pii/', 'secret/', 'content/', 'length/', 'messages/', 'schema/', 'preference/', 'media/', 'format/'],
  ],
];

/**
 * Where full validation's time goes, family by family (a diagnostic, not a target): the editor path
 * (the shipped bundle) with rule families left off cumulatively, interleaved with the floor in the same run.
 */
export function benchRuleFamilies(reps = QUICK ? 3 : 9): BenchRow[] {
  const lines = generateSftJsonl(QUICK ? 2 * MB : 10 * MB);
  const text = lines.join('\n') + '\n';
  const built = shipped();
  const floor: number[] = [];
  const times = FAMILY_STEPS.map((): number[] => []);
  for (let r = 0; r < reps; r++) {
    floor.push(timeSteady(() => floorParse(text)));
    FAMILY_STEPS.forEach(([, without], k) => times[k]?.push(timeSteady(() => built.validateInEditor(text, without))));
  }
  const f = median(floor);
  return [
    { name: 'floor: split + JSON.parse', value: f, unit: 'ms', detail: `median of ${reps}` },
    ...FAMILY_STEPS.map(([name], k) => {
      const t = median(times[k] ?? []);
      return { name: `editor path, ${name}`, value: t, unit: 'ms', detail: `${(t / f).toFixed(2)}x the floor` };
    }),
  ];
}

/**
 * The bench's records rewritten the ways real datasets differ from them, for `bench/dataset.ts variants`
 * (a diagnostic, not a target). The generated text is plain English words; a detector that is slow
 * only on underscores, braces, '@' or escapes never shows on it (the secret patterns cost 57 µs a line
 * with an underscore until 2026-12-01, twice the rest of the validation).
 */
const TEXT_VARIANTS: readonly [string, (line: string) => string][] = [
  ['as generated', (l) => l],
  [
    'code: `config_{name}` and f"{user_id}"',
    (l) => l.replace(/ data /g, ' `config_{name}` data ').replace(/ model /, ' f\\"{user_id}\\" model '),
  ],
  ['an address and an @decorator', (l) => l.replace(/ model /, ' ops@acme-corp.com @decorator model ')],
  ['dates and times', (l) => l.replace(/ time /g, ' 2024-05-17 at 13:45 ')],
  ['\\u escapes and \\n', (l) => l.replace(/ river /g, ' rivi\\u00e8re ').replace(/ the /, ' the\\n')],
  ['UTF-8 beyond ASCII', (l) => l.replace(/ river /g, ' rivière 河流 ')],
];

/** Each of TEXT_VARIANTS through the editor path (the shipped bundle), against its own floor in the same run. */
export function benchTextVariants(reps = QUICK ? 3 : 7): BenchRow[] {
  const lines = generateSftJsonl(QUICK ? 2 * MB : 10 * MB);
  const built = shipped();
  return TEXT_VARIANTS.map(([name, rewrite]) => {
    const text = lines.map(rewrite).join('\n') + '\n';
    const floor: number[] = [];
    const editor: number[] = [];
    for (let r = 0; r < reps; r++) {
      floor.push(timeSteady(() => floorParse(text)));
      editor.push(timeSteady(() => built.validateInEditor(text)));
    }
    const f = median(floor);
    const e = median(editor);
    return {
      name: `editor path, ${name} (${(text.length / MB).toFixed(1)} MB)`,
      value: e,
      unit: 'ms',
      detail: `${(e / f).toFixed(2)}x its floor (${f.toFixed(1)} ms)`,
    };
  });
}

export function benchEditLatency(edits = QUICK ? 10 : 30): BenchRow[] {
  const lines = generateSftJsonl(QUICK ? 2 * MB : 10 * MB, 2);
  const v = new DatasetValidator(benchOptions());
  v.update(0, 0, lines);
  v.findings();
  const rand = prng(7);
  const updateOnly: number[] = [];
  const withFindings: number[] = [];
  for (let k = 0; k < edits; k++) {
    const at = Math.floor(rand() * lines.length);
    const edited = (lines[at] ?? '').replace('"content":"', '"content":"Edited ' + k + ' ');
    const t0 = performance.now();
    v.update(at, 1, [edited]);
    const t1 = performance.now();
    v.findings();
    const t2 = performance.now();
    updateOnly.push(t1 - t0);
    withFindings.push(t2 - t0);
  }
  const u = median(updateOnly);
  const w = median(withFindings);
  return [
    {
      name: `one-line edit: update() in a ${lines.length}-line file`,
      value: u,
      unit: 'ms',
      target: '< 20 ms',
      pass: u < 20,
      detail: `median of ${edits}, max ${Math.max(...updateOnly).toFixed(2)} ms`,
    },
    {
      name: 'one-line edit: update() + findings()',
      value: w,
      unit: 'ms',
      target: '< 20 ms',
      pass: w < 20,
      detail: `median of ${edits}, max ${Math.max(...withFindings).toFixed(2)} ms`,
    },
  ];
}

interface StreamChildResult {
  bytes: number;
  ms: number;
  findings: number;
  peakRss: number;
  records: number;
  indexBytes: number;
}

/**
 * Child-process entry: stream `path` in 1 MiB chunks through DatasetStream (jobs 0) or through the
 * worker pool (jobs >= 1), and print throughput and peak RSS (all threads) as JSON.
 */
async function streamFileChild(path: string, jobs: number): Promise<void> {
  const fd = openSync(path, 'r');
  let total = 0;
  let findings = 0;
  let peakRss = process.memoryUsage().rss;
  const t0 = performance.now();
  // The built worker when there is one (what the CLI runs), else the TypeScript entry under tsx.
  const built = join(__dirname, '..', 'dist', 'server', 'datasetWorker.js');
  const scripts = existsSync(built) ? [built] : datasetWorkerCandidates();
  const pool = jobs >= 1 ? await DatasetWorkerPool.start(benchOptions(), jobs, scripts) : undefined;
  if (jobs >= 1 && !pool) throw new Error('no dataset worker could be started');
  const s = pool
    ? new ParallelDatasetStream(pool, benchOptions(), () => findings++)
    : new DatasetStream(streamOptions(), () => findings++);
  for (;;) {
    // A fresh buffer per chunk: the parallel stream keeps chunks until their batch is cut.
    const buf = new Uint8Array(MB);
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n <= 0) break;
    await s.push(buf.subarray(0, n));
    total += n;
    if ((total & (16 * MB - 1)) < MB) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  await s.end();
  const ms = performance.now() - t0;
  await pool?.close();
  closeSync(fd);
  peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
  const result: StreamChildResult = {
    bytes: total,
    ms,
    findings,
    peakRss,
    records: s.stats().records,
    indexBytes: s.indexBytes(),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

const BURN = `
const { parentPort } = require('node:worker_threads');
let x = 0;
for (let i = 0; i < 2e8; i++) x = (x + i * 7) % 1000003;
parentPort.postMessage(x);
`;

async function burnMs(threads: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from(
      { length: threads },
      () => new Promise((resolve) => new Worker(BURN, { eval: true }).once('message', resolve)),
    ),
  );
  return performance.now() - t0;
}

/**
 * Child-process entry: how many cores this process really gets now (other work on the machine takes
 * its share): `threads` busy loops at once against one alone, as an equivalent count of cores.
 */
async function coresChild(threads: number): Promise<void> {
  const one = await burnMs(1);
  const many = await burnMs(threads);
  process.stdout.write(JSON.stringify({ cores: (threads * one) / many }) + '\n');
}

function availableCores(threads: number): number {
  const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, '--cores-child', String(threads)], {
    encoding: 'utf8',
  });
  return (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { cores: number }).cores;
}

function runStreamChild(path: string, jobs: number): StreamChildResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, '--stream-child', path, String(jobs)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as StreamChildResult;
}

/** Writes about `target` bytes of generated records, 10 MB blocks from different seeds (same rates throughout). */
function writeGeneratedJsonl(path: string, target: number): void {
  const fd = openSync(path, 'w');
  for (let written = 0, seed = 3; written < target; seed++) {
    const block = generateSftJsonl(10 * MB, seed).join('\n') + '\n';
    writeFileSync(fd, block);
    written += block.length;
  }
  closeSync(fd);
}

/**
 * Where the parallel path's time goes (diagnostic, no target; `node --import tsx bench/dataset.ts pool`):
 * the same file through the worker pool three ways in one process, so that the in-order pass on this
 * thread (CrossRecordChecker.apply) is seen apart from the workers' per-record half, and with and
 * without the workers running beside it.
 */
export async function benchPoolSplit(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-pool-'));
  const built = join(__dirname, '..', 'dist', 'server', 'datasetWorker.js');
  const scripts = existsSync(built) ? [built] : datasetWorkerCandidates();
  const jobs = availableParallelism();
  const pool = await DatasetWorkerPool.start(benchOptions(), jobs, scripts);
  if (!pool) throw new Error('no dataset worker could be started');
  try {
    const path = join(dir, 'data.jsonl');
    writeGeneratedJsonl(path, (Number(process.env.BENCH_POOL_MB) || (QUICK ? 20 : 200)) * MB);
    const bytes = statSync(path).size;
    /** Analyses every batch on the pool; `onAnalysis` sees them in file order as they arrive. */
    const run = async (onAnalysis: (a: BlockAnalysis) => void): Promise<number> => {
      const fd = openSync(path, 'r');
      const t0 = performance.now();
      const batcher = new LineBatcher(DEFAULT_BATCH_BYTES);
      const pending: Promise<BlockAnalysis>[] = [];
      let first = true;
      const drain = async (limit: number) => {
        while (pending.length > limit) onAnalysis(await (pending.shift() as Promise<BlockAnalysis>));
      };
      for (;;) {
        const buf = new Uint8Array(MB);
        const n = readSync(fd, buf, 0, MB, null);
        if (n <= 0) break;
        for (const batch of batcher.push(buf.subarray(0, n))) {
          pending.push(pool.analyze(batch, first, true));
          first = false;
          await drain(2 * jobs + 1);
        }
      }
      const rest = batcher.finish();
      if (rest) pending.push(pool.analyze(rest, first, true));
      await drain(0);
      closeSync(fd);
      return performance.now() - t0;
    };
    const workersOnly = await run(() => undefined);
    let applyBeside = 0;
    const checker = new CrossRecordChecker(benchOptions(), () => undefined);
    const together = await run((a) => {
      const t = performance.now();
      checker.apply(a);
      applyBeside += performance.now() - t;
    });
    const kept: BlockAnalysis[] = [];
    await run((a) => kept.push(a));
    const alone = new CrossRecordChecker(benchOptions(), () => undefined);
    const applyAlone = time(() => {
      for (const a of kept) alone.apply(a);
    });
    const mbps = (ms: number) => bytes / MB / (ms / 1000);
    const size = `${(bytes / MB).toFixed(0)} MB, ${jobs} workers`;
    return [
      {
        name: `pool, workers only (${size})`,
        value: mbps(workersOnly),
        unit: 'MB/s',
        detail: `${(workersOnly / 1000).toFixed(2)} s`,
      },
      {
        name: 'pool, workers and the in-order pass (what lint runs)',
        value: mbps(together),
        unit: 'MB/s',
        detail: `${(together / 1000).toFixed(2)} s; the in-order pass took ${applyBeside.toFixed(0)} ms beside the workers`,
      },
      {
        name: 'in-order pass alone, over the same analyses',
        value: applyAlone,
        unit: 'ms',
        detail: `${(applyBeside / applyAlone).toFixed(2)}x slower beside the workers`,
      },
    ];
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function benchStreamFromDisk(): BenchRow[] {
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-'));
  try {
    const path = join(dir, 'data.jsonl');
    writeGeneratedJsonl(path, QUICK ? 20 * MB : 100 * MB);
    const jobs = availableParallelism();
    // Alternating processes, so that machine noise hits both paths alike; the best of each is kept.
    // The cores this process gets are measured right before each parallel run (the load of a shared
    // machine changes from minute to minute): the figure printed is the one of the run that was kept.
    const single: StreamChildResult[] = [];
    const parallel: (StreamChildResult & { cores: number })[] = [];
    for (let r = 0; r < (QUICK ? 1 : 2); r++) {
      single.push(runStreamChild(path, 0));
      const cores = availableCores(jobs);
      parallel.push({ ...runStreamChild(path, jobs), cores });
    }
    const best = <T extends StreamChildResult>(rs: T[]): T => rs.reduce((a, b) => (b.ms < a.ms ? b : a));
    const one = best(single);
    const many = best(parallel);
    const mbps = (r: StreamChildResult) => r.bytes / MB / (r.ms / 1000);
    const agree = one.findings === many.findings && one.records === many.records;
    const cores = many.cores;
    return [
      {
        name: `stream from disk: ${(one.bytes / MB).toFixed(0)} MB, ${one.records} records, 1 MiB chunks, one thread`,
        value: mbps(one),
        unit: 'MB/s',
        target: '>= 100 MB/s',
        pass: mbps(one) >= 100,
        detail: `${(one.ms / 1000).toFixed(2)} s, best of ${single.length}`,
      },
      {
        name: `stream from disk: same file, ${jobs} worker threads`,
        value: mbps(many),
        unit: 'MB/s',
        target: '>= 100 MB/s',
        pass: mbps(many) >= 100,
        detail: `${(mbps(many) / mbps(one)).toFixed(2)}x one thread; ${agree ? 'same' : 'DIFFERENT'} findings (${many.findings}) and records; ${cores.toFixed(1)} of ${jobs} cores free for this process just before this run (${parallel.map((p) => p.cores.toFixed(1)).join(', ')} before each)`,
      },
      {
        name: 'stream from disk: peak RSS, one thread',
        value: one.peakRss / MB,
        unit: 'MB',
        target: '< 1024 MB',
        pass: one.peakRss < 1024 * MB,
        detail: `cross-record indices ${(one.indexBytes / MB).toFixed(1)} MB`,
      },
      {
        name: `stream from disk: peak RSS, ${jobs} worker threads`,
        value: many.peakRss / MB,
        unit: 'MB',
        target: '< 1024 MB',
        pass: many.peakRss < 1024 * MB,
        detail: `${(many.peakRss / one.peakRss).toFixed(2)}x one thread`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `modelfactory lint FILE --format json` as a child, timed, with its peak RSS from /usr/bin/time or the child itself. */
function timeCli(path: string, jobs: number): { ms: number; peakRss: number; records: number } {
  const bin = join(__dirname, '..', 'bin', 'modelfactory.js');
  const args = [bin, 'lint', path, '--format', 'json', '--no-progress', '--jobs', String(jobs)];
  const t0 = performance.now();
  // Exit code 1 (errors found) is expected: the generated data has planted secrets.
  const run = (command: string, argv: string[]) => {
    try {
      return execFileSync(command, argv, { encoding: 'utf8', maxBuffer: 256 * MB, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { status?: number; stdout?: string; stderr?: string };
      if (e.status !== 1 || e.stdout === undefined) throw err;
      return e.stdout + '\u0000' + (e.stderr ?? '');
    }
  };
  let out: string;
  let peakRss = 0;
  if (existsSync('/usr/bin/time')) {
    const raw = run('/usr/bin/time', ['-f', '\nmaxrss_kb=%M', process.execPath, ...args]);
    out = raw.split('\u0000')[0] ?? '';
    peakRss = Number(/maxrss_kb=(\d+)/.exec(raw)?.[1] ?? 0) * 1024;
  } else {
    out = run(process.execPath, args).split('\u0000')[0] ?? '';
  }
  const ms = performance.now() - t0;
  const summary = (JSON.parse(out) as { summary: { records: number } }).summary;
  return { ms, peakRss, records: summary.records };
}

export function benchCliEndToEnd(): BenchRow[] {
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-cli-'));
  try {
    const path = join(dir, 'big.jsonl');
    const target = (Number(process.env.BENCH_CLI_MB) || (QUICK ? 100 : 1024)) * MB;
    writeGeneratedJsonl(path, target);
    const bytes = statSync(path).size;
    const jobs = availableParallelism();
    // An absolute target on a shared machine: each row says how many cores were free just before its run.
    const oneCores = availableCores(jobs);
    const one = timeCli(path, 1);
    const manyCores = availableCores(jobs);
    const many = timeCli(path, jobs);
    const free = (cores: number, of: number) => `; ${cores.toFixed(1)} of ${of} cores free just before`;
    const mbps = (ms: number) => bytes / MB / (ms / 1000);
    const rss = (b: number) => (b > 0 ? `peak RSS ${(b / MB).toFixed(0)} MB` : 'peak RSS not measured');
    return [
      {
        name: `CLI lint --jobs 1, ${(bytes / MB).toFixed(0)} MB, ${one.records} records`,
        value: mbps(one.ms),
        unit: 'MB/s',
        target: '>= 100 MB/s, < 1 GB',
        pass: mbps(one.ms) >= 100 && one.peakRss < 1024 * MB,
        detail: `${(one.ms / 1000).toFixed(1)} s end to end, ${rss(one.peakRss)}${free(oneCores, jobs)}`,
      },
      {
        name: `CLI lint --jobs ${jobs}, same file`,
        value: mbps(many.ms),
        unit: 'MB/s',
        target: '>= 100 MB/s, < 1 GB',
        pass: mbps(many.ms) >= 100 && many.peakRss < 1024 * MB,
        detail: `${(one.ms / many.ms).toFixed(2)}x --jobs 1, ${rss(many.peakRss)}${many.records === one.records ? '' : ', DIFFERENT record count'}${free(manyCores, jobs)}`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NEAR_THRESHOLD = 0.8;
const NEAR_PEER = join(__dirname, 'near_peer.py');
const PYTHON = join(__dirname, '..', 'trainer', '.venv', 'bin', 'python');

/** `n` short records, about 0.5% of them planted near duplicates (a word changed, added or dropped) of an earlier one. */
function nearDuplicateRecords(n: number): { texts: string[]; plantedOf: Int32Array } {
  const rand = prng(11);
  const texts: string[] = new Array<string>(n);
  const plantedOf = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    if (i > 100 && rand() < 0.005) {
      const j = Math.floor(rand() * (i - 1));
      const words = (texts[j] ?? '').split(' ');
      const edit = rand();
      const pos = Math.floor(rand() * words.length);
      if (edit < 0.4) words[pos] = VOCAB[Math.floor(rand() * VOCAB.length)] ?? 'x';
      else if (edit < 0.7) words.splice(pos, 0, 'indeed');
      else words.push('again');
      texts[i] = words.join(' ');
      plantedOf[i] = j;
    } else {
      texts[i] = sentence(rand, 25 + Math.floor(rand() * 20));
    }
  }
  // Flat strings, as JSON.parse hands a record's content to the validator (not ropes of concatenations).
  return { texts: JSON.parse(JSON.stringify(texts)) as string[], plantedOf };
}

/** Our pass over the first `n` records in order; `found[i]` is the earlier record reported for i, or -1. */
function ourNearPass(texts: string[], n: number): { found: Int32Array; ms: number; cpuMs: number } {
  const hasher = new MinHasher();
  const found = new Int32Array(n).fill(-1);
  const index = new NearDuplicateIndex(NEAR_THRESHOLD, (line, first) => (found[line] = first), n);
  const cpu0 = process.cpuUsage();
  const ms = time(() => {
    for (let i = 0; i < n; i++) if (hasher.compute(texts[i] ?? '')) index.addHashed(hasher, i);
    index.finish();
  });
  const cpu = process.cpuUsage(cpu0);
  return { found, ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/**
 * Recall: of the planted pairs whose exact Jaccard similarity (word 3-shingles) reaches the threshold,
 * the share whose copy was reported. Precision: of the records reported, the share whose reported
 * earlier record is at least that similar.
 */
function nearQuality(
  texts: string[],
  plantedOf: Int32Array,
  found: Int32Array,
  n: number,
): { positives: number; recall: number; reported: number; precision: number } {
  let positives = 0;
  let recalled = 0;
  let reported = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const j = plantedOf[i] ?? -1;
    const k = found[i] ?? -1;
    if (j >= 0 && jaccard(shingleSet(texts[i] ?? ''), shingleSet(texts[j] ?? '')) >= NEAR_THRESHOLD) {
      positives++;
      if (k >= 0) recalled++;
    }
    if (k >= 0) {
      reported++;
      if (jaccard(shingleSet(texts[i] ?? ''), shingleSet(texts[k] ?? '')) >= NEAR_THRESHOLD) correct++;
    }
  }
  return {
    positives,
    recall: positives === 0 ? 1 : recalled / positives,
    reported,
    precision: reported === 0 ? 1 : correct / reported,
  };
}

interface PeerRun {
  found: Int32Array;
  seconds: number;
  bands: number;
  rows: number;
}

/** datasketch's MinHash (128 permutations) and MinHashLSH at the same threshold on the first `n` records. */
function datasketchPass(texts: string[], n: number): PeerRun {
  if (!existsSync(PYTHON))
    throw new Error(`${PYTHON} is missing: run \`npm run setup\` (the bench's peer is datasketch)`);
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-near-'));
  try {
    const records = join(dir, 'records.txt');
    const out = join(dir, 'found.bin');
    writeFileSync(records, texts.slice(0, n).join('\n') + '\n');
    const py = spawnSync(PYTHON, [NEAR_PEER, records, out, String(NEAR_THRESHOLD), String(BINS)], {
      encoding: 'utf8',
      maxBuffer: 16 * MB,
    });
    if (py.status !== 0) throw new Error(`datasketch peer (${NEAR_PEER}) failed: ${py.stderr || py.error?.message}`);
    const report = JSON.parse(py.stdout.trim().split('\n').pop() ?? '') as {
      records: number;
      total_s: number;
      bands: number;
      rows: number;
    };
    if (report.records !== n) throw new Error(`datasketch peer read ${report.records} records, not ${n}`);
    const bytes = readFileSync(out);
    const found = new Int32Array(n);
    for (let i = 0; i < n; i++) found[i] = bytes.readInt32LE(4 * i);
    return { found, seconds: report.total_s, bands: report.bands, rows: report.rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function benchNearDuplicates(): BenchRow[] {
  const n = QUICK ? 100_000 : 1_000_000;
  // datasketch builds a sketch in about 0.2-0.5 ms per record here: it runs on a sample, compared per record.
  const sample = QUICK ? 10_000 : 50_000;
  const { texts, plantedOf } = nearDuplicateRecords(n);
  const ours = ourNearPass(texts, n);
  const quality = nearQuality(texts, plantedOf, ours.found, n);
  const oursSample = ourNearPass(texts, sample);
  const oursSampleQuality = nearQuality(texts, plantedOf, oursSample.found, sample);
  const peer = datasketchPass(texts, sample);
  const peerQuality = nearQuality(texts, plantedOf, peer.found, sample);
  const perRecord = (seconds: number, records: number): string => `${((seconds * 1e6) / records).toFixed(2)} µs/record`;
  return [
    {
      name: `near duplicates: ${n} short records (MinHash ${BINS} bins, LSH ${BANDS}x${ROWS})`,
      value: ours.ms / 1000,
      unit: 's',
      target: '< 8 s',
      pass: ours.ms < 8000,
      detail: `${Math.round(n / (ours.ms / 1000))} records/s, ${(ours.cpuMs / 1000).toFixed(2)} s CPU`,
    },
    {
      name: `near duplicates: recall on ${quality.positives} planted pairs with exact Jaccard >= ${NEAR_THRESHOLD}`,
      value: quality.recall,
      unit: 'ratio',
      target: '>= 0.9',
      pass: quality.recall >= 0.9,
      detail: `precision ${quality.precision.toFixed(3)} (${quality.reported} records reported; exact Jaccard of the reported pair >= ${NEAR_THRESHOLD})`,
    },
    {
      name: `near duplicates: datasketch MinHashLSH time / ours, same first ${sample} records`,
      value: peer.seconds / (oursSample.ms / 1000),
      unit: 'ratio',
      target: '>= 1 (ours faster)',
      pass: peer.seconds >= oursSample.ms / 1000,
      detail:
        `datasketch (num_perm ${BINS}, threshold ${NEAR_THRESHOLD}, its LSH ${peer.bands}x${peer.rows}) ${peer.seconds.toFixed(2)} s ` +
        `= ${perRecord(peer.seconds, sample)}, ours ${(oursSample.ms / 1000).toFixed(2)} s = ${perRecord(oursSample.ms / 1000, sample)} ` +
        `(${perRecord(ours.ms / 1000, n)} over all ${n}); on the sample's ${oursSampleQuality.positives} planted pairs recall ` +
        `ours ${oursSampleQuality.recall.toFixed(3)} / datasketch ${peerQuality.recall.toFixed(3)}, precision ours ` +
        `${oursSampleQuality.precision.toFixed(3)} / datasketch ${peerQuality.precision.toFixed(3)}`,
    },
  ];
}

export async function benchDataset(): Promise<BenchRow[]> {
  return [
    ...benchFullValidation(),
    ...benchEditLatency(),
    ...benchStreamFromDisk(),
    ...benchCliEndToEnd(),
    ...benchNearDuplicates(),
  ];
}

function printRows(rows: BenchRow[]): void {
  for (const r of rows) {
    const verdict = r.pass === undefined ? '' : r.pass ? ' PASS' : ' MISS';
    const value = r.unit === 'ratio' ? r.value.toFixed(3) : r.value.toFixed(r.value < 10 ? 2 : 1);
    console.log(
      `${r.name}: ${value} ${r.unit}${r.target ? ` (target ${r.target})${verdict}` : ''}${r.detail ? ` — ${r.detail}` : ''}`,
    );
  }
}

if (require.main === module) {
  const childAt = process.argv.indexOf('--stream-child');
  const coresAt = process.argv.indexOf('--cores-child');
  if (coresAt >= 0) void coresChild(Number(process.argv[coresAt + 1] ?? 2));
  else if (childAt >= 0) void streamFileChild(process.argv[childAt + 1] ?? '', Number(process.argv[childAt + 2] ?? 0));
  else {
    const only = process.argv[2];
    const pick: Record<string, () => BenchRow[]> = {
      full: benchFullValidation,
      families: benchRuleFamilies,
      variants: benchTextVariants,
      edit: benchEditLatency,
      stream: benchStreamFromDisk,
      cli: benchCliEndToEnd,
      near: benchNearDuplicates,
    };
    const fn = only ? pick[only] : undefined;
    if (only === 'pool') void benchPoolSplit().then(printRows);
    else if (fn) printRows(fn());
    else void benchDataset().then(printRows);
  }
}
