// "ModelFactory: Import Config": a LLaMA-Factory or axolotl training YAML opened as a new, unsaved
// `*.finetune.yaml` next to it. The language server converts it (`modelfactory/importConfig`, the same
// code as `modelfactory import`); in an untrusted workspace, where no server runs, the same pure
// conversion runs here, without the dataset_info.json look-up. Nothing is started either way.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { readBoundedText } from '../../server/src/boundedRead';
import { importConfig } from '../../server/src/core/config/importConfig';
import { documentKindOf } from '../../server/src/core/documentKind';
import { ImportConfigRequest, type ImportConfigParams, type ImportConfigResult } from '../../server/src/protocol';

const isYaml = (uri: vscode.Uri) => /\.ya?ml$/i.test(uri.path);

/** The YAML to import: the one given (explorer), the active editor's, or one picked in a dialog. */
async function sourceOf(given: unknown): Promise<vscode.Uri | undefined> {
  if (given instanceof vscode.Uri) return given;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active && isYaml(active) && documentKindOf(active.path) === undefined) return active;
  const picked = await vscode.window.showOpenDialog({
    title: 'Import a LLaMA-Factory or axolotl config',
    canSelectMany: false,
    filters: { 'Training config': ['yaml', 'yml'] },
  });
  return picked?.[0];
}

async function readText(uri: vscode.Uri): Promise<string> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open) return open.getText();
  // A file on disk goes through the bounded reader (regular file, YAML cap): a FIFO or /dev/zero is refused.
  if (uri.scheme === 'file') return readBoundedText(uri.fsPath, 'yaml');
  return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/** `<stem>.finetune.yaml` beside the source, numbered when that name is taken on disk. */
async function targetFor(source: vscode.Uri): Promise<vscode.Uri> {
  const name = source.path.slice(source.path.lastIndexOf('/') + 1);
  const stem = name.replace(/\.ya?ml$/i, '').replace(/\.finetune$/i, '');
  const dir = vscode.Uri.joinPath(source, '..');
  for (let n = 1; ; n++) {
    const candidate = vscode.Uri.joinPath(dir, `${stem}${n === 1 ? '' : `-${n}`}.finetune.yaml`);
    if (!(await exists(candidate))) return candidate;
  }
}

/** Runs the command; returns the new document's uri (for tests), or undefined when nothing was imported. */
export async function importConfigCommand(
  given: unknown,
  client: LanguageClient | undefined,
): Promise<vscode.Uri | undefined> {
  const source = await sourceOf(given);
  if (!source) return undefined;
  const text = await readText(source);
  const name = source.path.slice(source.path.lastIndexOf('/') + 1);
  let result: ImportConfigResult;
  if (client) {
    const onDisk = source.scheme === 'file';
    const params: ImportConfigParams = { text };
    if (onDisk) {
      params.sourcePath = source.fsPath;
      params.outputDir = vscode.Uri.joinPath(source, '..').fsPath;
      const folder = vscode.workspace.getWorkspaceFolder(source);
      if (folder) params.cwd = folder.uri.fsPath;
    }
    result = await client.sendRequest(ImportConfigRequest, params);
  } else {
    result = importConfig(text, { sourceName: name });
  }
  if (!result.ok) {
    void vscode.window.showWarningMessage(`ModelFactory: ${name} was not imported: ${result.message}`);
    return undefined;
  }
  const target = (await targetFor(source)).with({ scheme: 'untitled' });
  const doc = await vscode.workspace.openTextDocument(target);
  const edit = new vscode.WorkspaceEdit();
  edit.replace(target, new vscode.Range(0, 0, doc.lineCount, 0), result.text);
  await vscode.workspace.applyEdit(edit);
  await vscode.window.showTextDocument(doc);
  const savedName = target.path.slice(target.path.lastIndexOf('/') + 1);
  void vscode.window
    .showInformationMessage(
      `ModelFactory: ${name} imported from ${result.from}: ${result.mapped.length} settings mapped, ${result.notMapped.length} left as comments (at the end, with why).`,
      `Save as ${savedName}`,
    )
    .then((choice) => choice && vscode.workspace.save(target));
  return target;
}
