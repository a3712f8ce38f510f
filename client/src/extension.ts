// The extension host side, kept thin: it starts the language server, shows the active file's status,
// and wires commands, the jobs view and the panels to the trainer connection. Validation lives in the
// server; training lives in the Python trainer.
//
// Workspace trust (SECURITY.md rule 1): in an untrusted workspace nothing is started, not even the
// language server; commands that would start a process explain why they do nothing. Granting trust
// starts everything without a reload.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { createLanguageClient } from './languageClient';
import { ActiveFileStatus } from './statusBar';

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel('ModelFactory', { log: true });
  context.subscriptions.push(log);
  context.subscriptions.push(vscode.commands.registerCommand('modelfactory.showLog', () => log.show()));

  const startTrusted = async () => {
    if (client) return;
    client = createLanguageClient(context, log);
    try {
      await client.start();
    } catch (err) {
      log.error(`The language server did not start: ${err instanceof Error ? err.message : String(err)}`);
      void vscode.window
        .showErrorMessage('ModelFactory: the language server did not start. See the log.', 'Show Log')
        .then((choice) => choice && log.show());
      return;
    }
    context.subscriptions.push(new ActiveFileStatus(client, () => targetLabel()));
    log.info('Language server started');
  };

  if (vscode.workspace.isTrusted) {
    await startTrusted();
  } else {
    log.info('Untrusted workspace: ModelFactory starts nothing until the workspace is trusted');
    context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void startTrusted()));
  }
}

function targetLabel(): string {
  const target = vscode.workspace.getConfiguration('modelfactory').get<string>('trainer.defaultTarget', 'local');
  return target === 'local' ? 'local trainer' : target;
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
