// `modelfactory stats`: per dataset file, what training will see: the format mix, the records and how
// many are accepted (no error finding), the token lengths in the model's own terms (each record rendered
// with the chat template and encoded with the tokenizer, exactly, when one is on disk; otherwise the
// documented estimate, said as such), the limit and the records over it, and with a config the tokens
// trained over all epochs. Counting is the lint pass with every record counted exactly, on worker
// threads for larger files.
import { stat } from 'node:fs/promises';
import { openBoundedStream, readBoundedText } from '../server/src/boundedRead';
import { relative, resolve } from 'node:path';
import { templateSetFor } from '../server/src/core/chatTemplate';
import { viewConfig } from '../server/src/core/config';
import { parseYaml } from '../server/src/core/yaml';
import { ExampleTokenCounter, NO_TOKENS } from '../server/src/core/dataset/exampleTokens';
import { RECORD_FORMATS } from '../server/src/core/dataset/formats';
import type { DatasetStats } from '../server/src/core/dataset/stats';
import type { DatasetStreamOptions } from '../server/src/core/dataset/stream';
import { dirName } from '../server/src/core/hfCache';
import { documentKindOf, ModelFactoryService } from '../server/src/core/service';
import { DEFAULT_SETTINGS } from '../server/src/core/settings';
import { loadTokenCounter, tokenizerSearchPlaces } from '../server/src/core/tokenizer';
import type { Finding } from '../server/src/core/types';
import { nodeEnvironment } from '../server/src/nodeFs';
import { progressLine, walkFiles } from './files';
import { defaultJobs, lintDatasetFileOnNode } from '../server/src/parallel/lintFile';

export const STATS_USAGE = `modelfactory stats PATH... [--json] [--records] [--tokenizer DIR|ID] [--config CONFIG]
  Per dataset file: the format mix, records and accepted records (no error finding), token lengths in
  the model's terms (p50, p90, p99, max: exact with a tokenizer on disk, else estimated), the limit and
  the records over it. Folders recurse; with --config and no PATH, the config's dataset.
      --json                     the statistics as JSON
      --records                  each record's line and token count too
      --tokenizer DIR|ID         count with this tokenizer (a model folder, a tokenizer.json, or a
                                 Hugging Face id in the local cache) instead of the one the file's
                                 Datanet or config names
      --config CONFIG            as this fine-tune config trains the files: its base model's tokenizer
                                 and chat template, its max_seq_length as the limit, and the tokens
                                 trained over its epochs
      --jobs N                   worker threads for larger files (default: one per core, at most 4)
      --no-progress              no progress line on the terminal
  Exit codes: 0 done, 2 usage error.`;

class StatsUsageError extends Error {}

/** Files smaller than this are counted on the main thread (workers load the tokenizer each). */
const STATS_PARALLEL_MIN_BYTES = 2 * 1024 * 1024;
const PROGRESS_MIN_BYTES = 1024 * 1024;

interface StatsOptions {
  json: boolean;
  records: boolean;
  tokenizer?: string;
  config?: string;
  jobs: number;
  progress: boolean;
  paths: string[];
}

/** One file's statistics, in the JSON shape. */
export interface FileStats {
  file: string;
  formats: Record<string, number>;
  records: number;
  accepted: number;
  tokens: {
    exact: boolean;
    tokenizer: string;
    template: string;
    limit: number;
    over_limit: number;
    p50: number;
    p90: number;
    p99: number;
    max: number;
  };
  records_detail?: { line: number; tokens: number }[];
  trained_tokens?: number;
  epochs?: number;
}

function parseArgs(args: string[]): StatsOptions {
  const opts: StatsOptions = { json: false, records: false, jobs: defaultJobs(), progress: true, paths: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const value = () => {
      const v = a.includes('=') && a.startsWith('--') ? a.slice(a.indexOf('=') + 1) : args[++i];
      if (v === undefined || v === '') throw new StatsUsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--json') opts.json = true;
    else if (a === '--records') opts.records = true;
    else if (a === '--no-progress') opts.progress = false;
    else if (a === '--tokenizer' || a.startsWith('--tokenizer=')) opts.tokenizer = value();
    else if (a === '--config' || a.startsWith('--config=')) opts.config = value();
    else if (a === '--jobs' || a.startsWith('--jobs=')) {
      const v = value();
      const jobs = Number(v);
      if (!Number.isInteger(jobs) || jobs < 1)
        throw new StatsUsageError(`--jobs takes a whole number of at least 1, not '${v}'`);
      opts.jobs = jobs;
    } else if (a.startsWith('-')) throw new StatsUsageError(`unknown option ${a}`);
    else opts.paths.push(a);
  }
  return opts;
}

/** Dataset files: files as named, folders recursed for .jsonl and .json files. */
async function datasetFiles(paths: string[]): Promise<string[]> {
  const files = new Set<string>();
  const walk = (dir: string) => walkFiles(dir, (path) => documentKindOf(path) === 'dataset', files);
  for (const p of paths) {
    const abs = resolve(p);
    const st = await stat(abs).catch(() => undefined);
    if (!st) throw new StatsUsageError(`no such file or folder: ${p}`);
    if (st.isDirectory()) await walk(abs);
    else files.add(abs);
  }
  return [...files].sort();
}

/** Nearest-rank percentiles, as the core computes them. */
function percentiles(sorted: Uint32Array): { p50: number; p90: number; p99: number; max: number } {
  const n = sorted.length;
  const at = (q: number) => (n === 0 ? 0 : (sorted[Math.min(n - 1, Math.ceil(q * n) - 1)] ?? 0));
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: n === 0 ? 0 : (sorted[n - 1] ?? 0) };
}

export async function statsCommand(args: string[]): Promise<number> {
  try {
    return await runStats(parseArgs(args));
  } catch (err) {
    if (err instanceof StatsUsageError) {
      process.stderr.write(`modelfactory: ${err.message}\n\nUsage: ${STATS_USAGE}\n`);
      return 2;
    }
    throw err;
  }
}

async function runStats(opts: StatsOptions): Promise<number> {
  const env = nodeEnvironment();
  const service = new ModelFactoryService(env, { ...DEFAULT_SETTINGS });
  const cwd = process.cwd();

  let config:
    { path: string; baseModel?: string; maxSeqLength: number; chatTemplate?: string; epochs: number } | undefined;
  if (opts.config) {
    const path = resolve(opts.config);
    const text = await readBoundedText(path, 'yaml').catch((err: unknown) => {
      throw new StatsUsageError(`cannot read the config ${opts.config}: ${(err as Error).message}`);
    });
    const data = parseYaml(text).data as Record<string, unknown> | undefined;
    const view = viewConfig(data);
    const training = (data?.['training'] ?? {}) as Record<string, unknown>;
    const epochs = typeof training['epochs'] === 'number' ? training['epochs'] : 3;
    const chatTemplate = typeof data?.['chat_template'] === 'string' ? data['chat_template'] : undefined;
    config = { path, maxSeqLength: view.maxSeqLength, epochs };
    if (view.baseModel) config.baseModel = view.baseModel;
    if (chatTemplate) config.chatTemplate = chatTemplate;
    if (opts.paths.length === 0 && view.datasetPath) opts.paths.push(resolve(dirName(path), view.datasetPath));
  }
  if (opts.paths.length === 0) throw new StatsUsageError('stats needs a dataset file or folder (or --config)');
  const files = await datasetFiles(opts.paths);
  if (files.length === 0) throw new StatsUsageError(`no dataset files in ${opts.paths.join(' ')}`);

  // --tokenizer: one counter for every file (rendered with the config's template choice, if any).
  let forced: ExampleTokenCounter | undefined;
  if (opts.tokenizer) {
    const counter = await loadTokenCounter(opts.tokenizer, cwd, env);
    if (!counter) {
      throw new StatsUsageError(
        `no tokenizer.json found for ${opts.tokenizer} (looked for ${tokenizerSearchPlaces(opts.tokenizer, cwd, env).join(' and ')})`,
      );
    }
    const choice = config
      ? { configDir: dirName(config.path), ...(config.chatTemplate ? { chatTemplate: config.chatTemplate } : {}) }
      : undefined;
    forced = new ExampleTokenCounter(counter, await templateSetFor(counter, choice, env));
  }

  const out: FileStats[] = [];
  for (const path of files) {
    if (config?.baseModel) {
      const details = { maxSeqLength: config.maxSeqLength, epochs: config.epochs };
      service.noteConfigDataset(config.path, path, config.baseModel, {
        ...details,
        ...(config.chatTemplate ? { chatTemplate: config.chatTemplate } : {}),
      });
    }
    const { detail, ...fileStats } = await statsOfFile(service, path, opts, forced);
    const result: FileStats = { ...fileStats, file: relative(cwd, path) || path };
    if (opts.records) result.records_detail = detail.map(({ line, tokens }) => ({ line, tokens }));
    if (config) {
      const limit = result.tokens.limit;
      let trained = 0;
      for (const r of detail) if (r.accepted) trained += Math.min(r.tokens, limit);
      result.trained_tokens = Math.round(trained * config.epochs);
      result.epochs = config.epochs;
    }
    out.push(result);
  }
  if (opts.json) process.stdout.write(JSON.stringify({ files: out }, null, 2) + '\n');
  else process.stdout.write(formatTable(out, opts.records) + '\n');
  return 0;
}

type Detail = { line: number; tokens: number; accepted: boolean };

/** One file: the lint pass with every record counted exactly, the per-record counts kept. */
async function statsOfFile(
  service: ModelFactoryService,
  path: string,
  opts: StatsOptions,
  forced: ExampleTokenCounter | undefined,
): Promise<Omit<FileStats, 'records_detail'> & { detail: Detail[] }> {
  const policy = await service.datasetPolicy(path);
  const base = forced ?? (policy.options.tokenCounter as ExampleTokenCounter);
  const counter = base.counting(true);
  const limit = policy.options.maxTokens;
  const perRecord: { line: number; tokens: number }[] = [];
  const errorLines = new Set<number>();
  /** For a .json array: the start lines of the elements with no error finding. */
  const acceptedStarts = new Set<number>();
  const onFinding = (f: Finding) => {
    if (f.severity === 'error') errorLines.add(f.range.start.line);
  };
  let stats: DatasetStats;
  if (path.toLowerCase().endsWith('.jsonl')) {
    const { stream, size } = await openBoundedStream(path);
    const progress = progressLine(
      opts.progress && process.stderr.isTTY === true,
      relative(process.cwd(), path),
      size,
      PROGRESS_MIN_BYTES,
      'counting tokens',
    );
    stats = await lintDatasetFileOnNode(service, path, size, stream, onFinding, (done) => progress.report(done), {
      jobs: opts.jobs,
      minParallelBytes: STATS_PARALLEL_MIN_BYTES,
      adjust: (o: DatasetStreamOptions) => ({
        ...o,
        tokenCounter: counter,
        onRecordTokens: (line, tokens) => perRecord.push({ line, tokens }),
      }),
    });
    progress.done();
  } else {
    const text = await readBoundedText(path, 'jsonDataset');
    const result = await service.validateJsonDataset(path, text, (o) => ({ ...o, tokenCounter: counter }));
    for (const f of result.findings) onFinding(f);
    stats = result.stats;
    // A record of an array starts at the line of its opening brace; its findings lie within its lines.
    const starts = result.records.map((r) => result.positionAt(r.start).line);
    const ends = result.records.map((r) => result.positionAt(r.end).line);
    result.records.forEach((r, i) => {
      if (r.tokens === undefined || r.tokens === NO_TOKENS) return;
      const start = starts[i] ?? 0;
      const end = ends[i] ?? start;
      let error = false;
      for (let l = start; l <= end && !error; l++) error = errorLines.has(l);
      perRecord.push({ line: start, tokens: r.tokens });
      if (!error) acceptedStarts.add(start);
    });
  }
  const isJsonl = path.toLowerCase().endsWith('.jsonl');
  const detail: Detail[] = perRecord.map(({ line, tokens }) => ({
    line: line + 1,
    tokens,
    accepted: isJsonl ? !errorLines.has(line) : acceptedStarts.has(line),
  }));
  const sorted = Uint32Array.from(perRecord.map((r) => r.tokens)).sort();
  const formats: Record<string, number> = {};
  for (const f of RECORD_FORMATS) if (stats.formats[f] > 0) formats[f] = stats.formats[f];
  return {
    file: path,
    formats,
    records: stats.records,
    accepted: Math.round(stats.acceptance * stats.records),
    tokens: {
      exact: counter.exact && sorted.length > 0,
      tokenizer: counter.exact ? counter.name : 'estimate',
      template: counter.templateName,
      limit,
      over_limit: perRecord.filter((r) => r.tokens > limit).length,
      ...percentiles(sorted),
    },
    detail,
  };
}

function formatTable(files: FileStats[], withRecords: boolean): string {
  const header = ['file', 'records', 'accepted', 'p50', 'p90', 'p99', 'max', 'limit', 'over'];
  const rows = files.map((f) => [
    f.file,
    String(f.records),
    String(f.accepted),
    ...[f.tokens.p50, f.tokens.p90, f.tokens.p99, f.tokens.max].map((n) => (f.tokens.exact ? '' : '≈') + n),
    String(f.tokens.limit),
    String(f.tokens.over_limit),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out = [line(header)];
  for (const [k, f] of files.entries()) {
    out.push(line(rows[k] ?? []));
    const mix = Object.entries(f.formats)
      .map(([format, n]) => `${format} ${n}`)
      .join(', ');
    out.push(`  formats: ${mix || 'none'}`);
    out.push(
      f.tokens.exact
        ? `  tokens: exact, tokenizer ${f.tokens.tokenizer}, template ${f.tokens.template}`
        : '  tokens: estimated (no tokenizer found: pass --tokenizer, or set tokenizer in the Datanet or a config)',
    );
    if (f.trained_tokens !== undefined) {
      out.push(
        `  trained tokens: ${f.trained_tokens.toLocaleString('en-US')} over ${f.epochs} epochs (each record up to the limit)`,
      );
    }
    if (withRecords) for (const r of f.records_detail ?? []) out.push(`  line ${r.line}: ${r.tokens} tokens`);
  }
  return out.join('\n');
}
