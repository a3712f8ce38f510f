// Picking a held-out file for an evaluation: the workspace's record files (JSONL, JSON) first, since that
// is where a held-out set usually lives, and a file dialog for anything else.
import * as vscode from 'vscode';

/** Record files listed at most (a larger workspace still has "Browse…"). */
const MAX_LISTED = 500;
const EXCLUDE = '**/{node_modules,.git,.modelfactory,.venv,outputs}/**';

/** Names that say "held out" (heldout, eval, test, valid, dev) come first: the likely choice. */
const HELD_OUT_NAME = /held.?out|eval|test|valid|(^|[^a-z])dev([^a-z]|$)/i;

/**
 * A held-out file chosen by the user, as a file-system path, or undefined when they stopped. `title` says
 * what the records are for (and, where it applies, why a file is needed).
 */
export async function pickHeldOutFile(title: string): Promise<string | undefined> {
  const found = await vscode.workspace.findFiles('**/*.{jsonl,json}', EXCLUDE, MAX_LISTED);
  const rank = (label: string) => (HELD_OUT_NAME.test(label.split('/').pop() ?? label) ? 0 : 1);
  const files = found
    .filter((uri) => uri.scheme === 'file')
    .map((uri) => ({ label: vscode.workspace.asRelativePath(uri), path: uri.fsPath }))
    .sort((a, b) => rank(a.label) - rank(b.label) || a.label.localeCompare(b.label));
  const browse = { label: '$(folder-opened) Browse…', description: 'a JSONL or JSON file anywhere', path: '' };
  const pick = await vscode.window.showQuickPick([...files, browse], {
    title,
    placeHolder: 'Held-out records in any supported format (JSONL or JSON), with reference answers',
  });
  if (!pick) return undefined;
  if (pick.path) return pick.path;
  const workspace = vscode.workspace.workspaceFolders?.[0]?.uri;
  const chosen = await vscode.window.showOpenDialog({
    canSelectMany: false,
    ...(workspace ? { defaultUri: workspace } : {}),
    filters: { 'Records (JSONL, JSON)': ['jsonl', 'json'] },
    title,
  });
  return chosen?.[0]?.fsPath;
}
