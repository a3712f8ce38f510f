// Starts the bundled language server (dist/server/server.js) over Node IPC and hands back the client.
// The server does all validation; this side only says which documents it owns and forwards settings.
import * as vscode from 'vscode';
import {
  LanguageClient,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';

/** Dataset files, fine-tune configs and Datanet manifests, on disk or unsaved. */
export const DOCUMENT_SELECTOR = [
  { language: 'jsonl' },
  { language: 'json', pattern: '**/*.json' },
  { pattern: '**/*.finetune.{yaml,yml}' },
  { pattern: '**/modelfactory.{yaml,yml}' },
  { pattern: '**/datanet.{yaml,yml}' },
  { pattern: '**/*.evals.{yaml,yml}' },
];

export function createLanguageClient(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): LanguageClient {
  const module = vscode.Uri.joinPath(context.extensionUri, 'dist', 'server', 'server.js').fsPath;
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_SELECTOR.map((s) => ({ scheme: 'file', ...s })).concat(
      DOCUMENT_SELECTOR.map((s) => ({ scheme: 'untitled', ...s })),
    ),
    synchronize: { configurationSection: 'modelfactory' },
    outputChannel: log,
    // The server answers every request even on hostile input; restart it rather than give up if it dies.
    connectionOptions: { maxRestartCount: 5 },
  };
  return new LanguageClient('modelfactory', 'ModelFactory Language Server', serverOptions, clientOptions);
}
