// "Validate Dataset File on Disk": for files VS Code will not open (over 50 MB) or that are not open.
// The server streams the file from disk; its findings go to the Problems panel under the file's uri.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { ValidateFileRequest, type ValidateFileParams } from '../../server/src/protocol';

const SEVERITY: Record<string, vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};

let collection: vscode.DiagnosticCollection | undefined;

export async function validateFileOnDisk(
  client: LanguageClient,
  given: vscode.Uri | undefined,
  log: vscode.LogOutputChannel,
): Promise<void> {
  const uri =
    given ??
    (
      await vscode.window.showOpenDialog({
        title: 'Validate Dataset File on Disk',
        canSelectMany: false,
        filters: { Datasets: ['jsonl', 'json'] },
      })
    )?.[0];
  if (!uri) return;
  collection ??= vscode.languages.createDiagnosticCollection('modelfactory-disk');
  const name = vscode.workspace.asRelativePath(uri);
  const started = Date.now();
  const params: ValidateFileParams = { path: uri.fsPath, maxFindings: 5000 };
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `ModelFactory: validating ${name}`, cancellable: false },
    () => client.sendRequest(ValidateFileRequest, params),
  );
  const diagnostics = result.findings.map((f) => {
    const at = new vscode.Position(f.line, f.character);
    const d = new vscode.Diagnostic(
      new vscode.Range(at, at),
      f.message,
      SEVERITY[f.severity] ?? vscode.DiagnosticSeverity.Warning,
    );
    d.source = 'modelfactory';
    d.code = f.rule;
    return d;
  });
  collection.set(uri, diagnostics);
  const errors = result.findings.filter((f) => f.severity === 'error').length;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const mb = (result.bytes / 1e6).toFixed(1);
  log.info(
    `Validated ${name} from disk: ${mb} MB in ${seconds} s, ${result.findings.length}${result.truncated ? '+' : ''} findings`,
  );
  const summary = `${name}: ${errors} error${errors === 1 ? '' : 's'}, ${result.findings.length - errors} other finding${result.findings.length - errors === 1 ? '' : 's'}${result.truncated ? ' (first 5000 shown)' : ''}; ${mb} MB in ${seconds} s.`;
  const choice = await vscode.window.showInformationMessage(`ModelFactory: ${summary}`, 'Show Problems');
  if (choice) await vscode.commands.executeCommand('workbench.actions.view.problems');
}
