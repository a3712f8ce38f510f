// "ModelFactory: Evaluate on Endpoints", and Evaluate Adapter's offer to score endpoint models beside a local
// job's adapter. Both run the trainer's `eval … --endpoint URL --model NAME` on this machine, as a child of the
// extension host (never on a remote trainer: it would then hold the endpoints' keys). The endpoints are those of
// the playground (`OpenAIEndpoints`: `modelfactory.openai.endpoints`, and the local trainer's own API under
// `modelfactory.trainer.openai`); keys come from SecretStorage and reach the child only through its environment
// (`buildEndpointEval`). Results go to `<workspace>/.modelfactory/runs/eval-<time>-<hex>/` and open in the
// evaluation view.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { documentKindOf } from '../../../server/src/core/documentKind';
import { pythonFor } from '../golden/testController';
import type { JobRef } from '../jobs/describe';
import type { JobManager } from '../jobs/jobManager';
import type { OpenAIEndpoints } from '../openaiEndpoints';
import { OpenAIEndpointClient } from '../trainer/openaiChat';
import { runsFolder } from '../trainer/runStore';
import { localEvaluationDir } from './register';
import { pickHeldOutFile } from './heldOutFile';
import { buildEndpointEval, describeProgress, runEndpointEval, type EndpointModelPick } from './endpointEval';

export interface EndpointEvaluationDeps {
  log: vscode.LogOutputChannel;
  jobs: JobManager;
  openai: OpenAIEndpoints;
}

/** How long listing one endpoint's models may take before the picker says it did not answer. */
const LIST_TIMEOUT_MS = 15_000;

type PickItem = vscode.QuickPickItem & { pick?: EndpointModelPick };

/** The folder of a local trainer's job (`<globalStorage>/local-server/jobs/jobs/<id>`), its config inside. */
function localJobDir(globalStoragePath: string, jobId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(jobId)) throw new Error(`not a job id: ${jobId.slice(0, 80)}`);
  return path.dirname(path.dirname(localEvaluationDir(globalStoragePath, jobId)));
}

export class EndpointEvaluation {
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly deps: EndpointEvaluationDeps,
  ) {}

  /** Whether any endpoint could be offered (configured, or the local trainer's API). */
  hasEndpoints(): boolean {
    return this.deps.openai.targets().length > 0;
  }

  /** Every endpoint's models, one multi-select; an endpoint that cannot list them says why. */
  private async pickModels(title: string, placeHolder: string): Promise<EndpointModelPick[] | undefined> {
    const items = (async (): Promise<PickItem[]> => {
      const groups = await Promise.all(
        this.deps.openai.targets().map(async (target): Promise<PickItem[]> => {
          const name = target.label.replace(/ \(OpenAI-compatible\)$/, '');
          try {
            const { baseUrl, apiKey } = await this.deps.openai.connection(target.id);
            const models = await new OpenAIEndpointClient({ baseURL: baseUrl, apiKey }).listModels(
              AbortSignal.timeout(LIST_TIMEOUT_MS),
            );
            return [
              { label: target.label, kind: vscode.QuickPickItemKind.Separator },
              ...models.map((model) => ({
                label: model,
                description: name,
                pick: { endpoint: name, baseUrl, model, apiKey },
              })),
            ];
          } catch (err) {
            const why = err instanceof Error ? err.message : String(err);
            this.deps.log.warn(`Evaluate on endpoints: ${target.label} did not list its models: ${why}`);
            return [
              {
                label: `${target.label}: could not list its models (see the log)`,
                kind: vscode.QuickPickItemKind.Separator,
              },
            ];
          }
        }),
      );
      return groups.flat();
    })();
    const picked = await vscode.window.showQuickPick(items, {
      title,
      placeHolder,
      canPickMany: true,
      ignoreFocusOut: true,
    });
    return picked?.flatMap((item) => (item.pick ? [item.pick] : []));
  }

  /**
   * Evaluate Adapter's question for a done job of the local trainer: which endpoint models to score beside it.
   * Returns true when it handled the evaluation (ran it here, or the person dismissed the picker), false when
   * the job is to be evaluated on its trainer as before (no endpoints, a remote job, or none picked).
   */
  async besideAdapter(ref: JobRef): Promise<boolean> {
    if (ref.target !== 'local' || !this.hasEndpoints()) return false;
    const picks = await this.pickModels(
      'ModelFactory: Evaluate Adapter — also score endpoint models?',
      'Pick OpenAI-compatible models to score beside the adapter (here), or none to evaluate on the trainer',
    );
    if (picks === undefined) return true;
    if (picks.length === 0) return false;
    const jobDir = localJobDir(this.context.globalStorageUri.fsPath, ref.jobId);
    const config = path.join(jobDir, 'config.finetune.yaml');
    if (!existsSync(config)) throw new Error(`the local trainer keeps no config for job ${ref.jobId} (${config})`);
    const data = await this.pickData();
    if (data === null) return true;
    const adapter = await this.deps.jobs.downloadAdapter(ref.target, ref.jobId, true);
    if (!adapter) return true; // the download said why
    await this.runHere({ config, data, adapters: [adapter], endpoints: picks, endpointsOnly: false, title: ref.jobId });
    return true;
  }

  /** "ModelFactory: Evaluate on Endpoints": a config's eval split or a held-out file, endpoint models only. */
  async evaluateOnEndpoints(arg: unknown): Promise<void> {
    if (!this.hasEndpoints()) {
      const add = await vscode.window.showInformationMessage(
        'ModelFactory: no OpenAI-compatible endpoint is configured.',
        'Add OpenAI-Compatible Endpoint',
      );
      if (add) await vscode.commands.executeCommand('modelfactory.addOpenAIEndpoint');
      return;
    }
    const config = await this.pickConfig(arg);
    if (!config) return;
    const data = await this.pickData();
    if (data === null) return;
    const picks = await this.pickModels(
      'ModelFactory: Evaluate on Endpoints — models to score',
      'Pick one or more models of the endpoints',
    );
    if (!picks || picks.length === 0) return;
    await this.runHere({ config, data, endpoints: picks, endpointsOnly: true, title: path.basename(config) });
  }

  private async pickConfig(arg: unknown): Promise<string | undefined> {
    if (arg instanceof vscode.Uri && arg.scheme === 'file') return arg.fsPath;
    const active = vscode.window.activeTextEditor?.document.uri;
    if (active?.scheme === 'file' && documentKindOf(active.path) === 'config') return active.fsPath;
    const found = await vscode.workspace.findFiles('**/*.finetune.{yaml,yml}', '**/node_modules/**', 200);
    if (found.length === 0) {
      void vscode.window.showInformationMessage(
        'ModelFactory: no fine-tune config (*.finetune.yaml) here: it names the chat template and the eval split.',
      );
      return undefined;
    }
    const chosen = await vscode.window.showQuickPick(
      found.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri })),
      { title: 'ModelFactory: Evaluate on Endpoints — the fine-tune config (chat template, eval split)' },
    );
    return chosen?.uri.fsPath;
  }

  /** undefined: the config's eval split; null: dismissed. */
  private async pickData(): Promise<string | undefined | null> {
    const choice = await vscode.window.showQuickPick(
      [
        { label: "The config's eval split", description: 'the records training held out', file: false },
        { label: 'A held-out file…', description: 'JSONL or JSON in any supported record format', file: true },
      ],
      { title: 'ModelFactory: Evaluate on Endpoints — held-out records' },
    );
    if (!choice) return null;
    if (!choice.file) return undefined;
    return (await pickHeldOutFile('ModelFactory: Evaluate on Endpoints — held-out file')) ?? null;
  }

  private async runHere(options: {
    config: string;
    data?: string | undefined;
    adapters?: string[];
    endpoints: EndpointModelPick[];
    endpointsOnly: boolean;
    title: string;
  }): Promise<void> {
    const workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!workspace) throw new Error('open a folder: the results go in its .modelfactory/runs/');
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const out = path.join(runsFolder(workspace), `eval-${stamp}-${randomBytes(3).toString('hex')}`);
    const python = await pythonFor(this.context, this.deps.log);
    const settings = vscode.workspace.getConfiguration('modelfactory');
    const command = buildEndpointEval({
      python,
      trainerDir: path.join(this.context.extensionPath, 'trainer'),
      config: options.config,
      data: options.data,
      adapters: options.adapters ?? [],
      out,
      endpoints: options.endpoints,
      endpointsOnly: options.endpointsOnly,
      allowDownload: settings.get<boolean>('trainer.allowDownload', false) === true,
      baseEnv: process.env,
    });
    const log = this.deps.log;
    const models = options.endpoints.map((e) => `${e.model} (${e.endpoint})`).join(', ');
    log.info(`[eval] ${options.title}: ${models} into ${out}`);
    const outcome = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `ModelFactory: evaluating ${options.title}`,
        cancellable: true,
      },
      async (progress, token) => {
        const abort = new AbortController();
        const cancel = token.onCancellationRequested(() => abort.abort());
        let reported = 0;
        try {
          return await runEndpointEval(command, {
            signal: abort.signal,
            onStart: (s) => progress.report({ message: `${s.examples} examples × ${s.models.length} models` }),
            onProgress: (p) => {
              const percent = (p.done / Math.max(1, p.total)) * 100;
              progress.report({ message: describeProgress(p), increment: percent - reported });
              reported = percent;
            },
            onLine: (line) => log.info(`[eval] ${line}`),
          });
        } finally {
          cancel.dispose();
        }
      },
    );
    const results = vscode.Uri.file(out);
    if (outcome.state === 'done') {
      log.info(`[eval] done: ${out}`);
      await vscode.commands.executeCommand('modelfactory.openEvaluation', results);
    } else if (outcome.state === 'cancelled') {
      const open = existsSync(path.join(out, 'results.jsonl'))
        ? await vscode.window.showInformationMessage(
            'ModelFactory: evaluation cancelled; the examples answered so far are kept.',
            'Open Results',
          )
        : undefined;
      if (open) await vscode.commands.executeCommand('modelfactory.openEvaluation', results);
    } else {
      throw new Error(`the evaluation failed: ${outcome.error ?? 'no reason given'}`);
    }
  }
}
