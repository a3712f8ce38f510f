// Golden prompts in VS Code's Testing view: every `*.evals.yaml` of a trusted workspace is a test file, each
// prompt a test. Running runs the trainer's `golden FILE --json --only NAME…` (the same command CI runs) with
// the trainer's Python; a prompt passes when every model it runs against (base and adapters) passes, and a
// failure shows, per model, what was expected against the answer (a diff).
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as vscode from 'vscode';
import { readBounded } from '../../../server/src/boundedRead';
import { findTrainerPython } from '../trainer/python';
import type { OpenAIEndpoints } from '../openaiEndpoints';
import { LOCAL_OPENAI_TARGET, OPENAI_TARGET_PREFIX, readOpenAIEndpoints } from '../openaiEndpoints';
import { expectedText, goldenPrompts, parseGoldenOutput, type GoldenResult } from './evalsFile';
import { goldenCommand, judgeSettings, matchJudgeEndpoint, missingJudgeKeyHint, type GoldenCommand } from './judgeKey';

const GLOB = '**/*.evals.{yaml,yml}';
const EXCLUDE = '{**/node_modules/**,**/.modelfactory/**}';
/** The most output kept from one run (stdout JSON and the stderr tail). */
const MAX_OUTPUT = 16 * 1024 * 1024;

export async function pythonFor(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<string> {
  const setting = vscode.workspace.getConfiguration('modelfactory').get<string>('trainer.pythonPath', '');
  const found = await findTrainerPython({
    setting: setting || undefined,
    workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
    extensionPath: context.extensionPath,
    globalStoragePath: context.globalStorageUri.fsPath,
  });
  for (const f of found.failures) log.info(`Python candidate (${f.source}) ${f.python}: ${f.reason}`);
  if (!found.found) {
    throw new Error("no Python with the trainer's packages was found: run ModelFactory: Set Up Local Trainer");
  }
  return found.found.python;
}

function runGolden(
  command: GoldenCommand,
  token: vscode.CancellationToken,
  onStderr: (text: string) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command.command, command.args, {
      cwd: command.cwd,
      env: command.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      stderr = (stderr + text).slice(-64 * 1024);
      onStderr(text);
    });
    const cancel = token.onCancellationRequested(() => child.kill('SIGTERM'));
    child.on('error', (err) => {
      cancel.dispose();
      reject(err);
    });
    child.on('close', (code) => {
      cancel.dispose();
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The judge's key for an evals file: the configured endpoint (or the local trainer's API) whose base URL is the
 * file's `judge.base_url`, its key from SecretStorage. Undefined when none matches; a hint then says what to add.
 */
async function judgeKeyFor(
  file: string,
  openai: OpenAIEndpoints | undefined,
  log: vscode.LogOutputChannel,
): Promise<{ judgeKey?: { variable: string; key: string }; hint?: string }> {
  const read = await readBounded(file, 'yaml');
  const settings = judgeSettings('bytes' in read ? new TextDecoder().decode(read.bytes) : '');
  if (!settings) return {};
  const candidates = readOpenAIEndpoints(log).map((e) => ({ target: `${OPENAI_TARGET_PREFIX}${e.name}`, ...e }));
  if (openai?.targets().some((t) => t.id === LOCAL_OPENAI_TARGET)) {
    const local = await openai.connection(LOCAL_OPENAI_TARGET).catch(() => undefined);
    if (local) candidates.push({ target: LOCAL_OPENAI_TARGET, name: 'local trainer', baseUrl: local.baseUrl });
  }
  const match = openai ? matchJudgeEndpoint(settings.baseUrl, candidates) : undefined;
  if (!openai || !match) return { hint: missingJudgeKeyHint(settings, false, process.env) };
  const { apiKey } = await openai.connection(match.target);
  log.info(`Golden prompts: the judge's key for ${path.basename(file)} comes from endpoint ${match.name}.`);
  return { judgeKey: { variable: settings.keyEnv, key: apiKey } };
}

export function registerGoldenTests(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  openai?: OpenAIEndpoints,
): vscode.TestController {
  const controller = vscode.tests.createTestController('modelfactory.golden', 'ModelFactory golden prompts');
  context.subscriptions.push(controller);

  const fileItem = (uri: vscode.Uri): vscode.TestItem => {
    const existing = controller.items.get(uri.toString());
    if (existing) return existing;
    const item = controller.createTestItem(uri.toString(), vscode.workspace.asRelativePath(uri), uri);
    item.canResolveChildren = true;
    controller.items.add(item);
    return item;
  };

  const readPrompts = async (item: vscode.TestItem, text?: string) => {
    if (!item.uri) return;
    let content = text;
    if (content === undefined) {
      const read = await readBounded(item.uri.fsPath, 'yaml');
      content = 'bytes' in read ? new TextDecoder().decode(read.bytes) : '';
    }
    const prompts = goldenPrompts(content);
    item.error =
      prompts.length === 0 ? 'No prompts found: the file does not parse, or has no named prompts.' : undefined;
    item.children.replace(
      prompts.map((prompt) => {
        const child = controller.createTestItem(`${item.id}#${prompt.name}`, prompt.name, item.uri);
        child.range = new vscode.Range(prompt.line, 0, prompt.line, 0);
        return child;
      }),
    );
  };

  const discover = async () => {
    if (!vscode.workspace.isTrusted) return;
    for (const uri of await vscode.workspace.findFiles(GLOB, EXCLUDE, 500)) await readPrompts(fileItem(uri));
  };

  controller.resolveHandler = async (item) => {
    if (!vscode.workspace.isTrusted) return;
    if (item) await readPrompts(item);
    else await discover();
  };
  controller.refreshHandler = async () => {
    controller.items.replace([]);
    await discover();
  };

  const watcher = vscode.workspace.createFileSystemWatcher(GLOB);
  context.subscriptions.push(
    watcher,
    watcher.onDidCreate((uri) => vscode.workspace.isTrusted && void readPrompts(fileItem(uri))),
    watcher.onDidChange((uri) => vscode.workspace.isTrusted && void readPrompts(fileItem(uri))),
    watcher.onDidDelete((uri) => controller.items.delete(uri.toString())),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (vscode.workspace.isTrusted && /\.evals\.ya?ml$/i.test(e.document.uri.path)) {
        void readPrompts(fileItem(e.document.uri), e.document.getText());
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void discover()),
  );

  const run = async (request: vscode.TestRunRequest, token: vscode.CancellationToken) => {
    const testRun = controller.createTestRun(request);
    try {
      // The prompts asked for, by file.
      const byFile = new Map<vscode.TestItem, vscode.TestItem[]>();
      const roots = request.include ?? [...gather(controller.items)];
      for (const item of roots) {
        const file = item.parent ?? item;
        if (request.exclude?.includes(item)) continue;
        if (file.children.size === 0) await readPrompts(file);
        const prompts = item.parent ? [item] : [...gather(file.children)];
        byFile.set(file, [...(byFile.get(file) ?? []), ...prompts.filter((p) => !request.exclude?.includes(p))]);
      }
      if (!vscode.workspace.isTrusted) {
        for (const prompts of byFile.values())
          for (const p of prompts)
            testRun.errored(p, new vscode.TestMessage('Golden prompts run only in a trusted workspace.'));
        return;
      }
      const python = await pythonFor(context, log);
      const trainerDir = path.join(context.extensionPath, 'trainer');
      for (const [file, prompts] of byFile) {
        if (token.isCancellationRequested || !file.uri || prompts.length === 0) continue;
        for (const p of prompts) testRun.started(p);
        const all = prompts.length === file.children.size;
        const judge = await judgeKeyFor(file.uri.fsPath, openai, log);
        const command = goldenCommand({
          python,
          trainerDir,
          file: file.uri.fsPath,
          only: all ? [] : prompts.map((p) => p.label),
          baseEnv: process.env,
          allowDownload:
            vscode.workspace.getConfiguration('modelfactory').get<boolean>('trainer.allowDownload', false) === true,
          judgeKey: judge.judgeKey,
        });
        const outcome = await runGolden(command, token, (text) => testRun.appendOutput(text.replace(/\r?\n/g, '\r\n')));
        if (token.isCancellationRequested) {
          for (const p of prompts) testRun.skipped(p);
          continue;
        }
        const results = outcome.code === 0 || outcome.code === 1 ? parseGoldenOutput(outcome.stdout) : null;
        if (results === null || typeof results === 'string') {
          const why = typeof results === 'string' ? results : `the trainer exited with ${outcome.code}`;
          const tail = outcome.stderr.trim().split('\n').slice(-5).join('\n');
          const hint = judge.hint ? `\n${judge.hint}` : '';
          for (const p of prompts) testRun.errored(p, new vscode.TestMessage(`${why}\n${tail}${hint}`));
          continue;
        }
        for (const p of prompts)
          report(
            testRun,
            p,
            results.filter((r) => r.name === p.label),
            judge.hint,
          );
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.error(`Golden prompts: ${message}`);
      for (const item of request.include ?? [...gather(controller.items)])
        testRun.errored(item, new vscode.TestMessage(message));
    } finally {
      testRun.end();
    }
  };
  controller.createRunProfile('Run golden prompts', vscode.TestRunProfileKind.Run, run, true);
  return controller;
}

function* gather(collection: vscode.TestItemCollection): Generator<vscode.TestItem> {
  for (const [, item] of collection) yield item;
}

/** One prompt's verdict: passed when every model passed; else a diff per failing model. */
function report(run: vscode.TestRun, item: vscode.TestItem, results: GoldenResult[], judgeHint?: string): void {
  if (results.length === 0) {
    run.errored(item, new vscode.TestMessage('The trainer reported nothing for this prompt.'));
    return;
  }
  const ms = Math.round(results.reduce((sum, r) => sum + r.seconds, 0) * 1000);
  const failed = results.filter((r) => !r.passed);
  if (failed.length === 0) {
    run.passed(item, ms);
    return;
  }
  const messages = failed.map((r) => {
    const message = vscode.TestMessage.diff(`[${r.model}] ${r.problems.join('; ')}`, expectedText(r.expect), r.answer);
    if (item.uri && item.range) message.location = new vscode.Location(item.uri, item.range);
    return message;
  });
  const passedOn = results.filter((r) => r.passed).map((r) => r.model);
  if (passedOn.length) messages.push(new vscode.TestMessage(`Passed on ${passedOn.join(', ')}.`));
  if (judgeHint && failed.some((r) => 'judge' in r.expect)) messages.push(new vscode.TestMessage(judgeHint));
  run.failed(item, messages, ms);
}
