// The extension host side, kept thin: it starts the language server, shows the active file's status,
// and wires commands, the jobs view and the panels to the trainer connection. Validation lives in the
// server; training lives in the Python trainer.
//
// Workspace trust (SECURITY.md rule 1): in an untrusted workspace nothing is started, not even the
// language server; commands that would start a process explain why they do nothing. Granting trust
// starts everything without a reload.
import { documentKindOf } from '../../server/src/core/documentKind';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { EndpointSecrets } from './endpoints';
import { JobManager, messageOf, NotTrustedError } from './jobs/jobManager';
import { jobRefOf, type JobRef } from './jobs/describe';
import { JobsTreeProvider } from './jobs/jobsView';
import { importConfigCommand } from './importConfig';
import { exportAdapterCommand } from './exportAdapter';
import { registerHub } from './hub/hubCommands';
import { OpenAIEndpoints } from './openaiEndpoints';
import { EndpointEvaluation } from './evaluation/endpointEvalCommand';
import { pickHeldOutFile } from './evaluation/heldOutFile';
import { TrainerError } from './trainer/protocolClient';
import { createLanguageClient } from './languageClient';
import { registerPanels } from './panels/registerPanels';
import { registerHardestRecords } from './hardestRecords/view';
import { registerGoldenTests } from './golden/testController';
import { ActiveFileStatus } from './statusBar';
import { validateFileOnDisk } from './validateOnDisk';

let client: LanguageClient | undefined;

function configUriOf(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  const doc = vscode.window.activeTextEditor?.document;
  if (doc && documentKindOf(doc.uri.path) === 'config') return doc.uri;
  return undefined;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel('ModelFactory', { log: true });
  context.subscriptions.push(log);
  const secrets = new EndpointSecrets(context.secrets);
  const jobs = new JobManager(context, log, secrets, () => client);
  context.subscriptions.push(jobs);
  const tree = vscode.window.createTreeView('modelfactory.jobs', {
    treeDataProvider: new JobsTreeProvider(jobs),
    showCollapseAll: false,
  });
  context.subscriptions.push(tree);

  /** Runs a command body; untrusted workspaces and failures become one clear message. */
  const command = (id: string, body: (...args: unknown[]) => unknown) =>
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          return await body(...args);
        } catch (err) {
          if (err instanceof NotTrustedError) {
            void vscode.window
              .showWarningMessage(`ModelFactory: ${err.message}`, 'Manage Workspace Trust')
              .then((choice) => choice && vscode.commands.executeCommand('workbench.trust.manage'));
            return undefined;
          }
          log.error(`${id}: ${messageOf(err)}`);
          void vscode.window
            .showErrorMessage(`ModelFactory: ${messageOf(err)}`, 'Show Log')
            .then((choice) => choice && log.show());
          return undefined;
        }
      }),
    );
  const requireTrust = () => {
    if (!vscode.workspace.isTrusted) throw new NotTrustedError();
  };

  /** A job from the argument or a quick pick; `withAdapter`: training jobs only (an evaluation has no adapter). */
  const pickJob = async (
    arg: unknown,
    states: readonly string[],
    title: string,
    withAdapter = false,
  ): Promise<JobRef | undefined> => {
    const ref = jobRefOf(arg);
    if (ref) return ref;
    const candidates = jobs.allJobs().filter((j) => states.includes(j.state) && !(withAdapter && j.method === 'eval'));
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage(`ModelFactory: no job to ${title.toLowerCase()}.`);
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(
      candidates.map((j) => ({
        label: j.name,
        description: `${j.target} · ${j.state}`,
        detail: j.jobId,
        ref: { target: j.target, jobId: j.jobId },
      })),
      { title: `ModelFactory: ${title}` },
    );
    return pick?.ref;
  };

  command('modelfactory.showLog', () => log.show());
  command('modelfactory.train', async (arg: unknown, target?: unknown) => {
    requireTrust();
    const uri = configUriOf(arg);
    if (!uri) {
      void vscode.window.showInformationMessage('ModelFactory: open a fine-tune config (*.finetune.yaml) to train it.');
      return undefined;
    }
    const view = await jobs.train(uri, typeof target === 'string' ? target : undefined);
    if (view)
      await vscode.commands.executeCommand('modelfactory.openDashboard', { target: view.target, jobId: view.jobId });
    return view ? { target: view.target, jobId: view.jobId } : undefined;
  });
  command('modelfactory.cancelJob', async (arg: unknown) => {
    requireTrust();
    const ref = await pickJob(arg, ['queued', 'running'], 'Cancel Job');
    if (ref) await jobs.cancel(ref.target, ref.jobId);
  });
  command('modelfactory.resumeJob', async (arg: unknown) => {
    requireTrust();
    const ref = await pickJob(arg, ['cancelled', 'failed'], 'Resume Job');
    if (ref) await jobs.resume(ref.target, ref.jobId);
  });
  for (const [name, delta] of [
    ['modelfactory.moveJobUp', -1],
    ['modelfactory.moveJobDown', 1],
  ] as const) {
    command(name, async (arg: unknown) => {
      requireTrust();
      const ref = await pickJob(arg, ['queued'], delta < 0 ? 'Move Up in the Queue' : 'Move Down in the Queue');
      if (ref) await jobs.moveJob(ref.target, ref.jobId, delta);
    });
  }
  command('modelfactory.evaluateAdapter', async (arg: unknown) => {
    requireTrust();
    const ref = await pickJob(arg, ['done'], 'Evaluate Adapter', true);
    if (!ref) return;
    // Endpoint models picked beside a local job's adapter: the evaluation runs here (endpointEvalCommand.ts).
    if (await endpointEvaluation.besideAdapter(ref)) return;
    let view;
    try {
      view = await jobs.evaluate(ref.target, ref.jobId);
    } catch (err) {
      // A run that held nothing out (eval_split 0) is evaluated on a file the user picks, not refused.
      if (!(err instanceof TrainerError) || err.code !== 'no-held-out') throw err;
      const name = jobs.allJobs().find((j) => j.target === ref.target && j.jobId === ref.jobId)?.name || ref.jobId;
      const file = await pickHeldOutFile(
        `ModelFactory: Evaluate Adapter — ${name} held out no records (eval_split 0): pick a held-out file`,
      );
      if (!file) return;
      view = await jobs.evaluate(ref.target, ref.jobId, file);
    }
    await vscode.commands.executeCommand('modelfactory.openDashboard', { target: view.target, jobId: view.jobId });
  });
  command('modelfactory.downloadAdapter', async (arg: unknown) => {
    requireTrust();
    const ref = await pickJob(arg, ['done'], 'Download Adapter', true);
    if (!ref) return;
    const dir = await jobs.downloadAdapter(ref.target, ref.jobId, true);
    if (dir)
      void vscode.window.showInformationMessage(
        `ModelFactory: adapter verified and saved in ${vscode.workspace.asRelativePath(dir)}.`,
      );
  });
  command('modelfactory.exportAdapter', (arg: unknown) =>
    exportAdapterCommand(arg, {
      jobs,
      log,
      requireTrust,
      pickJob: (a) => pickJob(a, ['done'], 'Export Adapter', true),
    }),
  );
  command('modelfactory.refreshJobs', async () => {
    requireTrust();
    for (const t of jobs.targets()) {
      await jobs.connect(t.id, false).catch((err: unknown) => log.info(`[${t.label}] ${messageOf(err)}`));
      await jobs.refresh(t.id);
    }
  });
  command('modelfactory.addEndpoint', async () => {
    const added = await secrets.addEndpoint();
    if (added) void vscode.window.showInformationMessage(`ModelFactory: endpoint ${added.name} added.`);
  });
  command('modelfactory.removeEndpoint', async (arg: unknown) => {
    const node = arg as { kind?: string; target?: { id: string } } | null;
    const removed = await secrets.removeEndpoint(node?.kind === 'target' ? node.target?.id : undefined);
    if (removed) void vscode.window.showInformationMessage(`ModelFactory: endpoint ${removed} removed with its token.`);
  });
  command('modelfactory.setEndpointToken', async (arg: unknown) => {
    const node = arg as { kind?: string; target?: { id: string } } | null;
    const name = await secrets.setToken(node?.kind === 'target' ? node.target?.id : undefined);
    if (name) void vscode.window.showInformationMessage(`ModelFactory: token of ${name} stored in secret storage.`);
  });
  command('modelfactory.setHuggingFaceToken', async () => {
    if (await secrets.setHuggingFaceToken()) {
      void vscode.window.showInformationMessage(
        'ModelFactory: Hugging Face token updated in secret storage; the local trainer uses it from its next start.',
      );
    }
  });
  command('modelfactory.setupLocalTrainer', () => jobs.setupLocalTrainer());
  command('modelfactory.stopLocalTrainer', async () => {
    requireTrust();
    const stopped = await jobs.stopLocalTrainer();
    void vscode.window.showInformationMessage(
      stopped ? 'ModelFactory: the local trainer was stopped.' : 'ModelFactory: the local trainer was not running.',
    );
  });
  command('modelfactory.validateFileOnDisk', async (arg: unknown) => {
    requireTrust();
    if (!client) throw new Error('The language server is not running.');
    await validateFileOnDisk(client, arg instanceof vscode.Uri ? arg : undefined, log);
  });

  // Starts nothing, so no trust needed: the language server converts, or the same code in-process.
  command('modelfactory.importConfig', (arg: unknown) => importConfigCommand(arg, client));

  const openai = new OpenAIEndpoints(context.secrets, log, () => jobs.localOpenAIEndpoint());
  command('modelfactory.addOpenAIEndpoint', async () => {
    const added = await openai.add();
    if (added)
      void vscode.window.showInformationMessage(`ModelFactory: OpenAI-compatible endpoint ${added.name} added.`);
  });
  command('modelfactory.removeOpenAIEndpoint', async () => {
    const removed = await openai.remove();
    if (removed) void vscode.window.showInformationMessage(`ModelFactory: endpoint ${removed} removed with its key.`);
  });
  const endpointEvaluation = new EndpointEvaluation(context, { log, jobs, openai });
  command('modelfactory.evaluateOnEndpoints', (arg: unknown) => {
    requireTrust();
    return endpointEvaluation.evaluateOnEndpoints(arg);
  });
  registerPanels(context, { log, jobs, languageClient: () => client, requireTrust, openai });
  registerHub(context, { log, languageClient: () => client, requireTrust, command });
  const hardestRecords = registerHardestRecords(context, () => client, log);
  registerGoldenTests(context, log, openai);

  const startTrusted = async () => {
    if (client) return;
    client = createLanguageClient(context, log);
    try {
      await client.start();
    } catch (err) {
      log.error(`The language server did not start: ${messageOf(err)}`);
      void vscode.window
        .showErrorMessage('ModelFactory: the language server did not start. See the log.', 'Show Log')
        .then((choice) => choice && log.show());
      return;
    }
    context.subscriptions.push(new ActiveFileStatus(client, () => targetLabel(jobs.defaultTarget())));
    log.info('Language server started');
    hardestRecords.refresh();
    // Reconnect to a local trainer left running by an earlier window (a long job survives a closed
    // window); never start one just because the window opened.
    void jobs.reconnectIfRunning();
  };

  if (vscode.workspace.isTrusted) {
    await startTrusted();
  } else {
    log.info('Untrusted workspace: ModelFactory starts nothing until the workspace is trusted');
    context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void startTrusted()));
  }
}

function targetLabel(target: string): string {
  return target === 'local' ? 'local trainer' : target;
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
