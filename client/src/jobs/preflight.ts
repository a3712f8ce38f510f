// Before a job starts: the config and its dataset must pass the language server's checks. Errors block
// the job with a way to see them; warnings are listed in the log and do not block. A dataset governed
// by a Datanet is checked against its caps too (they are part of the server's file validation).
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { datasetOf, wantsRemoteCode } from './datasetOf';
import { ValidateFileRequest, type ValidateFileParams, type ValidateFileResult } from '../../../server/src/protocol';
import { getSetting } from '../settings';

export interface ReadyJob {
  configUri: vscode.Uri;
  /** The config as the editor holds it (unsaved edits included), with `dataset.path` naming the file sent. */
  configYaml: string;
  /** The dataset file to upload, or null when the config names a Hub dataset (`hub`) the trainer loads. */
  datasetPath: string | null;
  hub?: string;
  name: string;
}

/** Waits until the language server has published diagnostics for `uri`'s current text (bounded). */
async function settledDiagnostics(uri: vscode.Uri, timeoutMs = 8000): Promise<readonly vscode.Diagnostic[]> {
  const key = uri.toString();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    const sub = vscode.languages.onDidChangeDiagnostics((e) => {
      if (e.uris.some((u) => u.toString() === key)) done();
    });
    // An open, unchanged document was validated already; give the server a beat for a pending edit.
    const quiet = setTimeout(done, 600);
    function done() {
      clearTimeout(timer);
      clearTimeout(quiet);
      sub.dispose();
      resolve();
    }
  });
  return vscode.languages.getDiagnostics(uri);
}

async function showBlocking(message: string, uri: vscode.Uri): Promise<void> {
  const choice = await vscode.window.showErrorMessage(message, 'Show Errors');
  if (choice) {
    await vscode.window.showTextDocument(uri, { preview: false });
    await vscode.commands.executeCommand('workbench.actions.view.problems');
  }
}

export async function preflight(
  client: LanguageClient,
  configUri: vscode.Uri,
  log: vscode.LogOutputChannel,
): Promise<ReadyJob | undefined> {
  const configDoc = await vscode.workspace.openTextDocument(configUri);
  const configName = vscode.workspace.asRelativePath(configUri);
  const configErrors = (await settledDiagnostics(configUri)).filter(
    (d) => d.severity === vscode.DiagnosticSeverity.Error,
  );
  if (configErrors.length > 0) {
    await showBlocking(
      `ModelFactory: ${configErrors.length} error${configErrors.length > 1 ? 's' : ''} in ${configName} block this job.`,
      configUri,
    );
    return undefined;
  }
  const text = configDoc.getText();
  if (wantsRemoteCode(text) && !getSetting('modelfactory.trainer.trustRemoteCode')) {
    const choice = await vscode.window.showErrorMessage(
      `ModelFactory: ${configName} sets trust_remote_code: the model would run code shipped with its weights. Allow that with the user setting modelfactory.trainer.trustRemoteCode.`,
      'Open Setting',
    );
    if (choice)
      await vscode.commands.executeCommand('workbench.action.openSettings', 'modelfactory.trainer.trustRemoteCode');
    return undefined;
  }
  const dataset = datasetOf(text, configUri.fsPath);
  if ('problem' in dataset) {
    await showBlocking(`ModelFactory: ${dataset.problem}`, configUri);
    return undefined;
  }
  const name = path.basename(configUri.fsPath).replace(/\.finetune\.ya?ml$|\.ya?ml$/i, '');
  if ('hub' in dataset) {
    log.info(
      `Pre-flight: ${configName} trains on the Hub dataset ${dataset.hub}; the trainer checks its records against the record contract before training.`,
    );
    return { configUri, configYaml: text, datasetPath: null, hub: dataset.hub, name };
  }
  const datasetUri = vscode.Uri.file(dataset.path);
  const datasetName = vscode.workspace.asRelativePath(datasetUri);
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === datasetUri.toString());
  if (open?.isDirty) {
    const save = await vscode.window.showWarningMessage(
      `${datasetName} has unsaved changes; the job trains on the file on disk.`,
      'Save and Train',
    );
    if (!save || !(await open.save())) return undefined;
  }
  const params: ValidateFileParams = { path: dataset.path, maxFindings: 200 };
  let result: ValidateFileResult;
  try {
    result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `ModelFactory: checking ${datasetName}` },
      () => client.sendRequest(ValidateFileRequest, params),
    );
  } catch (err) {
    await showBlocking(
      `ModelFactory: ${datasetName} could not be checked: ${err instanceof Error ? err.message : String(err)}`,
      configUri,
    );
    return undefined;
  }
  const errors = result.findings.filter((f) => f.severity === 'error');
  for (const f of result.findings.filter((f) => f.severity === 'warning').slice(0, 50)) {
    log.warn(`${datasetName}:${f.line + 1}:${f.character + 1} ${f.rule}: ${f.message}`);
  }
  if (errors.length > 0) {
    const first = errors[0]!;
    log.error(
      `Pre-flight: ${errors.length} error(s) in ${datasetName}; first at line ${first.line + 1}: ${first.rule}`,
    );
    await showBlocking(
      `ModelFactory: ${errors.length}${result.truncated ? '+' : ''} error${errors.length > 1 ? 's' : ''} in ${datasetName} block this job (first: line ${first.line + 1}, ${first.rule}).`,
      datasetUri,
    );
    return undefined;
  }
  return { configUri, configYaml: text, datasetPath: dataset.path, name };
}
