// `modelfactory import FILE [-o OUT]`: a LLaMA-Factory or axolotl training YAML as a ModelFactory
// fine-tune config. The conversion is the core's (`importConfigFile`); this file reads, writes and
// reports.
import { writeFile } from 'node:fs/promises';
import { readBoundedText, ReadRefused } from '../server/src/boundedRead';
import { basename, dirname, resolve } from 'node:path';
import { importConfigFile } from '../server/src/core/config/importConfig';
import { documentKindOf } from '../server/src/core/documentKind';
import { nodeEnvironment } from '../server/src/nodeFs';

export const IMPORT_USAGE = `modelfactory import FILE [-o OUT] [--force]
  Convert a LLaMA-Factory or axolotl training YAML into a ModelFactory fine-tune config.
      -o, --output OUT           write it to OUT (name it *.finetune.yaml) instead of printing it
      --force                    overwrite OUT when it exists
  Keys with no ModelFactory equivalent become comments that say why. LLaMA-Factory dataset names are
  looked up in dataset_info.json (dataset_dir, from the working directory or the folders above FILE);
  paths are written relative to OUT's folder.
  Exit codes: 0 written, 2 usage error, unreadable FILE, or not a LLaMA-Factory or axolotl config.`;

class ImportUsageError extends Error {}

interface ImportArgs {
  file: string;
  out?: string;
  force: boolean;
}

function parseImportArgs(args: string[]): ImportArgs {
  let file: string | undefined;
  let out: string | undefined;
  let force = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-o' || a === '--output') {
      out = args[++i];
      if (out === undefined || out === '') throw new ImportUsageError(`${a} needs a file name`);
    } else if (a.startsWith('--output=')) {
      out = a.slice('--output='.length);
      if (out === '') throw new ImportUsageError('--output needs a file name');
    } else if (a === '--force') force = true;
    else if (a.startsWith('-')) throw new ImportUsageError(`unknown option ${a}`);
    else if (file !== undefined) throw new ImportUsageError('import takes one config file');
    else file = a;
  }
  if (file === undefined) throw new ImportUsageError('import needs a LLaMA-Factory or axolotl config file');
  return { file, force, ...(out !== undefined ? { out } : {}) };
}

function fail(message: string, usage: boolean): number {
  process.stderr.write(`modelfactory: ${message}\n${usage ? `\nUsage: ${IMPORT_USAGE}\n` : ''}`);
  return 2;
}

export async function importCommand(args: string[]): Promise<number> {
  let parsed: ImportArgs;
  try {
    parsed = parseImportArgs(args);
  } catch (err) {
    if (err instanceof ImportUsageError) return fail(err.message, true);
    throw err;
  }
  const source = resolve(parsed.file);
  let text: string;
  try {
    text = await readBoundedText(source, 'yaml');
  } catch (err) {
    const reason = err instanceof ReadRefused && err.missing ? 'ENOENT' : (err as Error).message;
    return fail(`cannot read ${parsed.file}: ${reason}`, false);
  }
  const out = parsed.out === undefined ? undefined : resolve(parsed.out);
  const result = await importConfigFile(nodeEnvironment(), text.replace(/^\uFEFF/, ''), {
    sourcePath: source,
    cwd: process.cwd(),
    outputDir: out ? dirname(out) : process.cwd(),
  });
  if (!result.ok) return fail(`${parsed.file}: ${result.message}`, false);
  const summary = `${parsed.file} (${result.from}): ${result.mapped.length} keys mapped, ${result.notMapped.length} left as comments`;
  if (!out) {
    process.stdout.write(result.text);
    process.stderr.write(`${summary}.\n`);
    return 0;
  }
  try {
    // 'wx' refuses an existing file without a check-then-write race.
    await writeFile(out, result.text, { encoding: 'utf8', flag: parsed.force ? 'w' : 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return fail(`${parsed.out} exists: pass --force to overwrite it`, false);
    return fail(`cannot write ${parsed.out}: ${code ?? String(err)}`, false);
  }
  process.stderr.write(`${summary}; wrote ${parsed.out}.\n`);
  if (documentKindOf(out) !== 'config') {
    process.stderr.write(
      `note: ${basename(out)} is not named *.finetune.yaml or modelfactory.yaml, so the linter and the editor will not treat it as a fine-tune config.\n`,
    );
  }
  return 0;
}
