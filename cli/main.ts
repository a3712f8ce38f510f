// `modelfactory`: the command line on the same core as the language server, for CI pipelines.
//   modelfactory lint [paths or globs...] [--format text|json|sarif] [--rule ID=SEVERITY] [--quiet]
//   modelfactory estimate CONFIG [--json] [--gpu-memory-gb N]
//   modelfactory rules [--json]
//   modelfactory train CONFIG [--server URL] [--follow] [--json]
// Exit codes: 0 clean (warnings allowed), 1 errors found, 2 usage error; `COMMAND --help` prints its usage.
import { stat } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { progressLine, walkFiles } from './files';
import { IMPORT_USAGE, importCommand } from './importCommand';
import { STATS_USAGE, statsCommand } from './statsCommand';
import { TRAIN_USAGE, TrainUsageError, trainCommand } from './trainCommand';
import { HUB_USAGE, HubUsageError, hubCommand } from '../hub/cli';
import { formatBytes } from '../server/src/core/config/memory';
import { globToRegExp } from '../server/src/core/datanet/glob';
import type { ReadKind } from '../server/src/core/io';
import { RULES, RULES_BY_ID } from '../server/src/core/rules';
import { nearestMatch } from '../server/src/core/yaml';
import { documentKindOf, ModelFactoryService, textDocument } from '../server/src/core/service';
import { DEFAULT_SETTINGS, type CoreSettings } from '../server/src/core/settings';
import type { Finding, SeveritySetting } from '../server/src/core/types';
import { nodeEnvironment } from '../server/src/nodeFs';
import { openBoundedStream, readBoundedText, readCaps, ReadRefused, statPath } from '../server/src/boundedRead';
import {
  defaultJobs,
  largeJsonSkipReason,
  lintDatasetFileOnNode,
  lintJsonArrayFileOnNode,
} from '../server/src/parallel/lintFile';
import {
  count,
  emptySummary,
  fileReport,
  formatFileLine,
  formatJson,
  formatSarif,
  formatSkippedLine,
  formatTextLine,
  formatTextSummary,
  toCliDiagnostic,
  type CliDiagnostic,
  type FileReport,
  type SkippedFile,
} from './format';

const VERSION = '0.1.0';
const PROGRESS_MIN_BYTES = 16 * 1024 * 1024;

class UsageError extends Error {}

const LINT_USAGE = `modelfactory lint [paths or globs...] [options]
  Check datasets, Datanet manifests and fine-tune configs. Folders recurse: .jsonl files, .json files
  that hold an array of records (other .json files are named on stderr, or under "skipped" in JSON),
  datanet.yaml, *.finetune.yaml. Each dataset gets a line: its records by format, how many pass.
      --format text|json|sarif   output format (default text)
      --rule ID=SEVERITY         override a rule: error, warning, information, hint or off (repeatable;
                                 ID may be a family like pii/*; \`modelfactory rules\` lists the ids)
      --quiet                    print errors only
      --hints                    also print hints (text output; JSON and SARIF always carry them)
      --no-progress              no progress line on the terminal
      --jobs N                   worker threads for large JSONL files (default: one per core, at most 4; 1: none)
  A file that cannot be read (a FIFO, a device, a folder named like a file, one over its size cap, one
  removed during the run) is reported as file/unreadable, an error, and the other files are still linted.
  Exit codes: 0 no errors (warnings allowed), 1 errors found (file/unreadable included), 2 usage error.`;

const ESTIMATE_USAGE = `modelfactory estimate CONFIG [--json] [--gpu-memory-gb N]
  The GPU memory estimate of a fine-tune config.
      --json                     the estimate as JSON
      --gpu-memory-gb N          the GPU's memory, for the verdict (default ${DEFAULT_SETTINGS.gpuMemoryGb})`;

const RULES_USAGE = `modelfactory rules [--json]
  The rule ids, their default severities and what they check.`;

const USAGE = `Usage:
  ${LINT_USAGE.split('\n')[0]}
  ${ESTIMATE_USAGE.split('\n')[0]}
  ${RULES_USAGE.split('\n')[0]}
  ${IMPORT_USAGE.split('\n')[0]}
  ${STATS_USAGE.split('\n')[0]}
  ${TRAIN_USAGE.split('\n')[0]}
  ${HUB_USAGE.split('\n')[0]}
  modelfactory --version | --help
  modelfactory COMMAND --help     a command's options
Exit codes: 0 no errors, 1 errors found, 2 usage error; a closed output pipe ends the run quietly.`;

const wantsHelp = (args: string[]) => args.includes('--help') || args.includes('-h');

const SEVERITIES = ['error', 'warning', 'information', 'hint', 'off'];

/** A `--rule` id: a known rule id, or a known family with `/*`. Anything else names the nearest id. */
function checkRuleId(id: string): void {
  const families = new Set(RULES.map((r) => r.id.slice(0, r.id.indexOf('/')) + '/*'));
  if (RULES_BY_ID.has(id) || families.has(id)) return;
  const nearest = nearestMatch(id, [...RULES.map((r) => r.id), ...families]);
  throw new UsageError(
    `unknown rule id '${id}'${nearest ? ` (did you mean '${nearest.match}'?)` : ''}; \`modelfactory rules\` lists them`,
  );
}

interface LintOptions {
  format: 'text' | 'json' | 'sarif';
  rules: Record<string, SeveritySetting>;
  quiet: boolean;
  /** Text output prints hint-level findings (metadata columns, say) only when asked. */
  hints: boolean;
  progress: boolean;
  jobs: number;
  paths: string[];
}

function parseLintArgs(args: string[]): LintOptions {
  const opts: LintOptions = {
    format: 'text',
    rules: {},
    quiet: false,
    hints: false,
    progress: true,
    jobs: defaultJobs(),
    paths: [],
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = () => {
      const v = a.includes('=') && a.startsWith('--') ? a.slice(a.indexOf('=') + 1) : args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--format' || a.startsWith('--format=')) {
      const f = value();
      if (f !== 'text' && f !== 'json' && f !== 'sarif')
        throw new UsageError(`--format must be text, json or sarif, not '${f}'`);
      opts.format = f;
    } else if (a === '--rule' || a.startsWith('--rule=')) {
      const spec = value();
      const eq = spec.lastIndexOf('=');
      const sev = spec.slice(eq + 1);
      if (eq <= 0 || !SEVERITIES.includes(sev)) {
        throw new UsageError(`--rule takes ID=SEVERITY (${SEVERITIES.join(', ')}), not '${spec}'`);
      }
      checkRuleId(spec.slice(0, eq));
      opts.rules[spec.slice(0, eq)] = sev as SeveritySetting;
    } else if (a === '--jobs' || a.startsWith('--jobs=')) {
      const v = value();
      const jobs = Number(v);
      if (!Number.isInteger(jobs) || jobs < 1)
        throw new UsageError(`--jobs takes a whole number of at least 1, not '${v}'`);
      opts.jobs = jobs;
    } else if (a === '--quiet') opts.quiet = true;
    else if (a === '--hints') opts.hints = true;
    else if (a === '--no-progress') opts.progress = false;
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else opts.paths.push(a);
  }
  if (opts.paths.length === 0) opts.paths.push('.');
  return opts;
}

const hasGlob = (p: string) => /[*?[{]/.test(p);

/** Files named on the command line: files as given, folders recursed, globs matched from their fixed prefix. */
async function expandPaths(
  paths: string[],
  onSkip?: (path: string, reason: string) => void,
): Promise<{ files: string[]; explicit: Set<string> }> {
  const files = new Set<string>();
  const explicit = new Set<string>();
  const walk = (dir: string, accept: (path: string) => boolean) => walkFiles(dir, accept, files, onSkip);
  for (const p of paths) {
    if (hasGlob(p)) {
      const segments = p.split('/');
      const fixed = segments.slice(0, segments.findIndex(hasGlob)).join('/') || '.';
      const base = resolve(fixed);
      let re: RegExp;
      try {
        re = globToRegExp(p.slice(fixed === '.' && !p.startsWith('./') ? 0 : fixed.length + 1));
      } catch (err) {
        throw new UsageError(`${p}: ${(err as Error).message}`);
      }
      await walk(base, (path) => re.test(relative(base, path)));
      continue;
    }
    const abs = resolve(p);
    const st = await stat(abs).catch(() => undefined);
    if (!st) throw new UsageError(`no such file or folder: ${p}`);
    if (st.isDirectory()) await walk(abs, (path) => documentKindOf(path) !== undefined);
    else {
      files.add(abs);
      explicit.add(abs);
    }
  }
  return { files: [...files].sort(), explicit };
}

async function lint(args: string[]): Promise<number> {
  const opts = parseLintArgs(args);
  const started = performance.now();
  const settings: CoreSettings = { ...DEFAULT_SETTINGS, rules: opts.rules };
  const service = new ModelFactoryService(nodeEnvironment(), settings);
  const cwd = process.cwd();
  const skipped: SkippedFile[] = [];
  const { files, explicit } = await expandPaths(opts.paths, (path, reason) => {
    const skip = { file: relative(cwd, path) || path, reason };
    skipped.push(skip);
    if (opts.format !== 'json' && !opts.quiet) process.stderr.write(`${skip.file}: skipped: ${reason}\n`);
  });
  const diagnostics: CliDiagnostic[] = [];
  const summary = emptySummary();
  const fileReports: FileReport[] = [];
  const stream = opts.format === 'text';
  const emit = (path: string, f: Finding) => {
    const d = toCliDiagnostic(relative(cwd, path) || path, f);
    count(summary, d);
    if (opts.quiet && d.severity !== 'error') return;
    if (stream) {
      if (d.severity !== 'hint' || opts.hints) process.stdout.write(formatTextLine(d) + '\n');
    } else diagnostics.push(d);
  };
  const byPosition = (a: Finding, b: Finding) =>
    a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character;
  const severityOf = service.severityFor();
  /** Reads one file for lint through the bounded reader; a refusal is a file/unreadable finding. */
  const readOrReport = async (path: string, kind: ReadKind): Promise<string | undefined> => {
    try {
      return await readBoundedText(path, kind);
    } catch (err) {
      reportUnreadable(path, err);
      return undefined;
    }
  };
  const reportUnreadable = (path: string, err: unknown) => {
    const severity = severityOf('file/unreadable');
    const reason = err instanceof ReadRefused ? err.message : `${path} cannot be read (${(err as Error)?.message})`;
    const at = { line: 0, character: 0 };
    if (severity)
      emit(path, { rule: 'file/unreadable', severity, range: { start: at, end: at }, message: `${reason}.` });
    summary.files++;
  };
  const progressOf = (path: string, size: number) =>
    progressLine(opts.progress && process.stderr.isTTY === true, relative(cwd, path), size, PROGRESS_MIN_BYTES);
  const noteSkipped = (path: string, reason: string) => {
    const skip = { file: relative(cwd, path) || path, reason };
    skipped.push(skip);
    if (opts.format !== 'json' && !opts.quiet) process.stderr.write(formatSkippedLine(skip) + '\n');
  };
  // The service says what each file is, in which order to check them (a config that trains on a dataset
  // lends it its model's tokenizer, so configs come first), and which to stream rather than read whole.
  for (const path of service.lintOrder(files)) {
    let stats;
    let size: number;
    if (service.streams(path)) {
      let opened;
      try {
        opened = await openBoundedStream(path);
      } catch (err) {
        reportUnreadable(path, err);
        continue;
      }
      size = opened.size;
      const progress = progressOf(path, size);
      // Findings arrive line by line; those of one line are put in column order before printing.
      let pending: Finding[] = [];
      const flush = () => {
        for (const f of pending.sort(byPosition)) emit(path, f);
        pending = [];
      };
      stats = await lintDatasetFileOnNode(
        service,
        path,
        size,
        opened.stream,
        (f) => {
          if (pending.length > 0 && pending[0]!.range.start.line !== f.range.start.line) flush();
          pending.push(f);
        },
        (done) => progress.report(done),
        { jobs: opts.jobs },
      );
      flush();
      progress.done();
    } else if (
      service.readKindOf(path) === 'jsonDataset' &&
      ((await statPath(path))?.size ?? 0) > readCaps().jsonDataset
    ) {
      // A .json array over its in-memory cap (READ_CAPS.jsonDataset) is streamed element by element,
      // memory bounded by the largest element (the line cap); smaller ones are held (below).
      let opened;
      try {
        const governed = explicit.has(path) || (await service.datanets.governing(path));
        const skip = governed ? undefined : await largeJsonSkipReason(path);
        if (skip) {
          noteSkipped(path, skip);
          continue;
        }
        opened = await openBoundedStream(path);
      } catch (err) {
        reportUnreadable(path, err);
        continue;
      }
      size = opened.size;
      const progress = progressOf(path, size);
      const onFinding = (f: Finding) => emit(path, f);
      stats = await lintJsonArrayFileOnNode(service, path, size, opened.stream, readCaps().line, onFinding, (done) =>
        progress.report(done),
      );
      progress.done();
    } else {
      // Read whole, up to its kind's cap. A .json file is a dataset when named explicitly, governed by a
      // Datanet, or an array of records by its content; other JSON (package.json, tsconfig.json) is not
      // ours, and the lint says so. A .json array over its in-memory cap was streamed above.
      const text = await readOrReport(path, service.readKindOf(path));
      if (text === undefined) continue;
      const result = await service.lintText(path, text, { forceDataset: explicit.has(path) });
      if (result.skipped !== undefined) {
        noteSkipped(path, result.skipped);
        continue;
      }
      for (const f of result.findings.sort(byPosition)) emit(path, f);
      if (!result.stats) {
        summary.files++;
        continue;
      }
      stats = result.stats;
      size = Buffer.byteLength(text);
    }
    const report = fileReport(relative(cwd, path) || path, stats);
    fileReports.push(report);
    if (stream && !opts.quiet) process.stdout.write(formatFileLine(report) + '\n');
    summary.files++;
    summary.bytes += size;
    summary.records += stats.records;
    summary.acceptedRecords += Math.round(stats.acceptance * stats.records);
  }
  summary.seconds = (performance.now() - started) / 1000;
  if (summary.files === 0) {
    const notes =
      skipped.length > 0
        ? ` (${skipped.length} .json file${skipped.length === 1 ? '' : 's'} skipped: not datasets)`
        : '';
    throw new UsageError(
      `no datasets, Datanet manifests or fine-tune configs found in ${opts.paths.join(' ')}${notes}`,
    );
  }
  if (opts.format === 'json') process.stdout.write(formatJson(diagnostics, summary, fileReports, skipped) + '\n');
  else if (opts.format === 'sarif') process.stdout.write(formatSarif(diagnostics, VERSION) + '\n');
  else process.stdout.write(formatTextSummary(summary, !opts.hints) + '\n');
  return summary.errors > 0 ? 1 : 0;
}

async function estimate(args: string[]): Promise<number> {
  let json = false;
  let gpu = DEFAULT_SETTINGS.gpuMemoryGb;
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') json = true;
    else if (a === '--gpu-memory-gb') {
      gpu = Number(args[++i]);
      if (!Number.isFinite(gpu) || gpu <= 0) throw new UsageError('--gpu-memory-gb takes a positive number');
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (file) throw new UsageError('estimate takes one config file');
    else file = a;
  }
  if (!file) throw new UsageError('estimate needs a fine-tune config file');
  const path = resolve(file);
  const text = await readBoundedText(path, 'yaml').catch((err: unknown) => {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  });
  const service = new ModelFactoryService(nodeEnvironment(), { ...DEFAULT_SETTINGS, gpuMemoryGb: gpu });
  service.open(textDocument(path, text), path, { as: 'config' });
  const result = await service.memoryEstimate(path).finally(() => service.close(path));
  if (!result) {
    process.stderr.write(`${file}: no estimate: the config names no base_model, or one whose size is unknown\n`);
    return 1;
  }
  if (json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } else {
    const lines = [`${result.model} (${result.source}), ${result.config.method}, ${result.config.precision}`];
    for (const part of result.breakdown)
      lines.push(`  ${part.label.padEnd(34)} ${formatBytes(part.bytes).padStart(10)}`);
    lines.push(`  ${'total'.padEnd(34)} ${formatBytes(result.estimate.totalBytes).padStart(10)}  (GPU: ${gpu} GiB)`);
    for (const a of result.estimate.assumptions) lines.push(`  - ${a}`);
    process.stdout.write(lines.join('\n') + '\n');
  }
  return 0;
}

function listRules(args: string[]): number {
  if (args.includes('--json')) process.stdout.write(JSON.stringify(RULES, null, 2) + '\n');
  else
    for (const r of RULES) process.stdout.write(`${r.id.padEnd(36)} ${r.defaultSeverity.padEnd(8)} ${r.description}\n`);
  return 0;
}

interface Command {
  usage: string;
  run(args: string[]): Promise<number> | number;
}

const COMMANDS: Record<string, Command> = {
  lint: { usage: LINT_USAGE, run: lint },
  estimate: { usage: ESTIMATE_USAGE, run: estimate },
  rules: { usage: RULES_USAGE, run: listRules },
  import: { usage: IMPORT_USAGE, run: importCommand },
  stats: { usage: STATS_USAGE, run: statsCommand },
  train: { usage: TRAIN_USAGE, run: trainCommand },
  hub: {
    usage: HUB_USAGE,
    run: (args) =>
      hubCommand(args).catch((err: unknown) => {
        throw err instanceof HubUsageError ? new UsageError(err.message) : err;
      }),
  },
};

/** Reading stops when the pipe that stdout writes into closes (`modelfactory lint | head -1`): end quietly. */
function endQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    // 128 + SIGPIPE, the status a shell reports for any program whose reader went away.
    process.exit(141);
  });
}

export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe();
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  try {
    if (command) {
      if (wantsHelp(rest)) {
        process.stdout.write(`Usage: ${command.usage}\n`);
        return 0;
      }
      return await command.run(rest);
    }
    switch (name) {
      case '--version':
      case '-v':
        process.stdout.write(VERSION + '\n');
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE + '\n');
        return name === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${name}'`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof TrainUsageError) {
      process.stderr.write(`modelfactory: ${err.message}\n\n${command ? `Usage: ${command.usage}` : USAGE}\n`);
      return 2;
    }
    if (err instanceof ReadRefused) {
      process.stderr.write(`modelfactory: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`modelfactory: ${(err as Error)?.stack ?? String(err)}\n`);
    return 2;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
