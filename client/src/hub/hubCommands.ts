// The editor's side of the Datanet hub: the hub address (machine-scoped setting `modelfactory.hub.url`),
// the token (SecretStorage only; it leaves only in the Authorization header), Submit to Datanet (a
// local lint through the language server first; the receipt's findings become diagnostics in the
// `modelfactory-hub` collection), the Datanets view, the leaderboard, the curator's review queue, and
// the hub ledger handed to the language server for hub-linked manifests' daily caps.
import { basename } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  HubLedgerNotification,
  ValidateFileRequest,
  type HubLedgerParams,
  type ValidateFileParams,
} from '../../../server/src/protocol';
import type { HubLedgerEntry } from '../../../server/src/core/datanet/governance';
import { getSetting, updateSetting } from '../settings';
import { checkHubUrl, HubClient, type MyDatanetView, type Receipt } from './hubClient';
import { receiptSummary, supersedableOf } from './datanetsModel';
import { DatanetsTreeProvider, type DatanetsNode } from './hubView';
import { LeaderboardPanels } from './leaderboardPanel';

const TOKEN_KEY = 'modelfactory.hub.token';
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{16,128}$/;
const SEVERITY: Record<string, vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};
const MAX_MANIFEST_BYTES = 256 * 1024;

export interface HubDeps {
  log: vscode.LogOutputChannel;
  languageClient: () => LanguageClient | undefined;
  requireTrust: () => void;
  /** Registers a command with the extension's error handling. */
  command: (id: string, body: (...args: unknown[]) => unknown) => void;
}

function hubUrl(): string {
  return getSetting('modelfactory.hub.url').trim();
}

const sameHub = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

export function registerHub(context: vscode.ExtensionContext, deps: HubDeps): void {
  const { log, command } = deps;
  const diagnostics = vscode.languages.createDiagnosticCollection('modelfactory-hub');
  context.subscriptions.push(diagnostics);

  const client = async (): Promise<HubClient | undefined> => {
    const url = hubUrl();
    const token = await context.secrets.get(TOKEN_KEY);
    if (!url || !token || checkHubUrl(url)) return undefined;
    return new HubClient(url, token);
  };
  const requireClient = async (): Promise<HubClient> => {
    const hub = await client();
    if (hub) return hub;
    const url = hubUrl();
    if (url && checkHubUrl(url)) throw new Error(`modelfactory.hub.url: ${checkHubUrl(url)}`);
    throw new Error('no hub yet: run "ModelFactory: Set Hub Token" (it asks for the hub address too)');
  };

  const tree = new DatanetsTreeProvider(client, log);
  context.subscriptions.push(vscode.window.createTreeView('modelfactory.datanets', { treeDataProvider: tree }));
  const leaderboards = new LeaderboardPanels();
  const setSignedIn = async () =>
    vscode.commands.executeCommand('setContext', 'modelfactory.hubSignedIn', !!(await client()));

  /** Reads the views again and tells the language server what the hub counts for hub-linked manifests. */
  const refresh = async () => {
    await setSignedIn();
    const views = await tree.refresh();
    await sendLedger(views ?? []);
  };

  const sendLedger = async (views: MyDatanetView[]) => {
    const lc = deps.languageClient();
    if (!lc || !vscode.workspace.isTrusted) return;
    const url = hubUrl();
    const entries: HubLedgerEntry[] = [];
    for (const linked of await linkedManifests()) {
      // Only the hub of the user's own setting is asked: a workspace cannot send the token elsewhere.
      if (!url || !sameHub(linked.url, url)) continue;
      const view = views.find((v) => v.datanet === linked.name);
      if (!view) continue;
      const day = view.quota.day;
      entries.push({
        url: linked.url,
        datanet: linked.name,
        day,
        bytes: view.quota.datanet.bytes,
        files: view.quota.datanet.files,
        fileNames: view.contributions.filter((c) => c.created_at.slice(0, 10) === day).map((c) => c.file_name),
      });
    }
    const params: HubLedgerParams = { entries };
    await lc.sendNotification(HubLedgerNotification, params);
  };

  command('modelfactory.setHubToken', async () => {
    let url = hubUrl();
    if (!url || checkHubUrl(url)) {
      const entered = await vscode.window.showInputBox({
        title: 'ModelFactory: Datanet hub address',
        prompt: 'The hub (modelfactory hub serve): https://host, or http://localhost:PORT on this machine',
        value: url,
        ignoreFocusOut: true,
        validateInput: (v) => checkHubUrl(v.trim()),
      });
      if (!entered) return;
      url = entered.trim();
      // Machine-scoped: only user settings may name the host the token goes to.
      await updateSetting('modelfactory.hub.url', url, vscode.ConfigurationTarget.Global);
      if (hubUrl() !== url) throw new Error(`modelfactory.hub.url did not take ${url}: set it in your user settings`);
    }
    const token = await vscode.window.showInputBox({
      title: `ModelFactory: token for ${url}`,
      prompt: 'Your personal hub token (modelfactory hub token create prints it); kept in secret storage',
      password: true,
      ignoreFocusOut: true,
      validateInput: (v) => (TOKEN_SHAPE.test(v.trim()) ? undefined : 'a hub token is 16–128 letters, digits, _ or -'),
    });
    if (!token) return;
    const me = await new HubClient(url, token.trim()).me();
    await context.secrets.store(TOKEN_KEY, token.trim());
    void vscode.window.showInformationMessage(`ModelFactory: signed in to ${url} as ${me.name} (${me.role}).`);
    await refresh();
  });

  command('modelfactory.signOutOfHub', async () => {
    await context.secrets.delete(TOKEN_KEY);
    diagnostics.clear();
    await refresh();
    void vscode.window.showInformationMessage('ModelFactory: signed out of the hub; the token was removed.');
  });

  command('modelfactory.refreshDatanets', () => refresh());

  command('modelfactory.submitToDatanet', async (arg: unknown, datanetArg?: unknown) => {
    deps.requireTrust();
    const hub = await requireClient();
    const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    if (!uri || uri.scheme !== 'file') {
      void vscode.window.showInformationMessage('ModelFactory: open a dataset file (.jsonl) to submit it.');
      return undefined;
    }
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (open?.isDirty && !(await open.save())) throw new Error('save the file first: the hub receives it from disk');
    const name = vscode.workspace.asRelativePath(uri);

    // Lint here first, on the same core: a file with errors is not sent.
    const lc = deps.languageClient();
    if (!lc) throw new Error('the language server is not running: it lints the file before a submit');
    const lintParams: ValidateFileParams = { path: uri.fsPath, maxFindings: 1000 };
    const lint = await lc.sendRequest(ValidateFileRequest, lintParams);
    const errors = lint.findings.filter((f) => f.severity === 'error');
    if (errors.length > 0) {
      if (!open) {
        diagnostics.set(
          uri,
          lint.findings.map((f) => diagnostic(f.line, f.character, f.severity, f.rule, f.message, 'modelfactory')),
        );
      }
      const first = errors[0]!;
      const choice = await vscode.window.showErrorMessage(
        `ModelFactory: not submitted: ${name} has ${errors.length} error${errors.length === 1 ? '' : 's'} here (line ${first.line + 1}: ${first.rule}: ${first.message}). Fix them first.`,
        'Show Problems',
      );
      if (choice) await vscode.commands.executeCommand('workbench.actions.view.problems');
      return { submitted: false, errors: errors.length };
    }

    const datanet = typeof datanetArg === 'string' ? datanetArg : await chooseDatanet(hub, uri);
    if (!datanet) return undefined;
    // A fixed file sent again replaces its rejected contribution: the rejection then no longer counts.
    const replaces = supersedableOf(await hub.myDatanet(datanet), basename(uri.fsPath));
    const receipt = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `ModelFactory: submitting ${name} to ${datanet}` },
      () => hub.submit(uri.fsPath, datanet, replaces?.id),
    );
    if (replaces) log.info(`${receipt.id} supersedes the rejected ${replaces.id}`);
    diagnostics.set(uri, receiptDiagnostics(receipt));
    log.info(`Submitted ${name} to ${datanet}: ${receipt.verdict} (${receipt.id})`);
    const summary = `ModelFactory: ${receiptSummary(receipt)}`;
    const show =
      receipt.verdict === 'rejected' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(summary, ...(receipt.findings.length > 0 ? ['Show Problems'] : [])).then(
      (choice) => choice && vscode.commands.executeCommand('workbench.actions.view.problems'),
    );
    await refresh();
    return { submitted: true, receipt: { id: receipt.id, verdict: receipt.verdict } };
  });

  command('modelfactory.openLeaderboard', async (arg: unknown) => {
    const hub = await requireClient();
    let datanet = typeof arg === 'string' ? arg : datanetOfNode(arg);
    if (!datanet) {
      const list = await hub.datanets();
      datanet =
        (await vscode.window.showQuickPick(
          list.map((d) => d.name),
          { title: 'ModelFactory: Leaderboard of' },
        )) ?? '';
      if (!datanet) return;
    }
    const [rows, me] = await Promise.all([hub.leaderboard(datanet), hub.me()]);
    leaderboards.show(datanet, hub.base, rows, me.name);
  });

  const review = async (arg: unknown, decision: 'approve' | 'reject') => {
    const hub = await requireClient();
    const node = arg as DatanetsNode | undefined;
    const receipt = node?.kind === 'contribution' ? node.receipt : undefined;
    if (!receipt) {
      void vscode.window.showInformationMessage(
        'ModelFactory: choose a contribution in the review queue of the Datanets view.',
      );
      return;
    }
    let reason: string | undefined;
    if (decision === 'reject') {
      reason = await vscode.window.showInputBox({
        title: `ModelFactory: reject ${receipt.file_name} by ${receipt.contributor}`,
        prompt: 'The reason, for the contributor (required)',
        ignoreFocusOut: true,
        validateInput: (v) =>
          v.trim() ? (v.length > 2000 ? 'at most 2000 characters' : undefined) : 'a rejection needs a reason',
      });
      if (!reason) return;
    }
    const after = await hub.review(receipt.id, decision, reason?.trim());
    void vscode.window.showInformationMessage(
      `ModelFactory: ${after.file_name} by ${after.contributor} is ${after.verdict}.`,
    );
    await refresh();
  };
  command('modelfactory.approveContribution', (arg: unknown) => review(arg, 'approve'));
  command('modelfactory.rejectContribution', (arg: unknown) => review(arg, 'reject'));

  context.subscriptions.push(
    // A receipt describes the file as it was sent: an edit makes its findings stale.
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.contentChanges.length > 0 && diagnostics.has(e.document.uri)) diagnostics.delete(e.document.uri);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('modelfactory.hub.url')) void refresh();
    }),
    context.secrets.onDidChange((e) => {
      if (e.key === TOKEN_KEY) void refresh();
    }),
  );
  // The ledger of today goes stale: read it again every few minutes while signed in.
  const timer = setInterval(() => void refresh().catch(() => undefined), 5 * 60_000);
  context.subscriptions.push({ dispose: () => clearInterval(timer) });
  void refresh().catch((err: unknown) => log.warn(`Datanets: ${String(err)}`));
}

function datanetOfNode(arg: unknown): string | undefined {
  const node = arg as DatanetsNode | undefined;
  if (node?.kind === 'datanet') return node.view.datanet;
  return undefined;
}

function diagnostic(line: number, character: number, severity: string, rule: string, message: string, source: string) {
  const at = new vscode.Position(Math.max(0, line), Math.max(0, character));
  const d = new vscode.Diagnostic(
    new vscode.Range(at, at),
    message,
    SEVERITY[severity] ?? vscode.DiagnosticSeverity.Warning,
  );
  d.source = source;
  d.code = rule;
  return d;
}

/** The receipt's findings (1-based lines) as diagnostics, marked as the hub's. */
export function receiptDiagnostics(r: Receipt): vscode.Diagnostic[] {
  return r.findings.map((f) =>
    diagnostic(f.line - 1, 0, f.severity, f.rule, f.message, `modelfactory hub (${r.verdict})`),
  );
}

interface LinkedManifest {
  url: string;
  name: string;
  manifestUri: vscode.Uri;
}

/** The workspace's Datanet manifests with `hub: {url, name?}` (bounded: 50 files, 256 kB each). */
async function linkedManifests(): Promise<LinkedManifest[]> {
  const out: LinkedManifest[] = [];
  for (const uri of await vscode.workspace.findFiles('**/datanet.{yaml,yml}', '**/node_modules/**', 50)) {
    const m = await readManifest(uri);
    const hub = m?.['hub'] as { url?: unknown; name?: unknown } | undefined;
    if (typeof hub?.url !== 'string' || typeof m?.['name'] !== 'string') continue;
    out.push({ url: hub.url, name: typeof hub.name === 'string' ? hub.name : m['name'], manifestUri: uri });
  }
  return out;
}

async function readManifest(uri: vscode.Uri): Promise<Record<string, unknown> | undefined> {
  try {
    const st = await vscode.workspace.fs.stat(uri);
    if (st.type !== vscode.FileType.File || st.size > MAX_MANIFEST_BYTES) return undefined;
    const value: unknown = parseYaml(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)), {
      maxAliasCount: 100,
    });
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The Datanet a file goes to: its nearest manifest's (hub name or name) when the hub has it, else asked. */
async function chooseDatanet(hub: HubClient, file: vscode.Uri): Promise<string | undefined> {
  const list = await hub.datanets();
  const root = vscode.workspace.getWorkspaceFolder(file)?.uri;
  let dir = vscode.Uri.joinPath(file, '..');
  for (let i = 0; i < 32 && root && dir.path.startsWith(root.path); i++) {
    for (const base of ['datanet.yaml', 'datanet.yml']) {
      const m = await readManifest(vscode.Uri.joinPath(dir, base));
      if (!m) continue;
      const hubKey = m['hub'] as { name?: unknown } | undefined;
      const name = typeof hubKey?.name === 'string' ? hubKey.name : m['name'];
      if (typeof name === 'string' && list.some((d) => d.name === name)) return name;
    }
    if (dir.path === root.path) break;
    dir = vscode.Uri.joinPath(dir, '..');
  }
  if (list.length === 0) throw new Error(`the hub ${hub.base} has no Datanet yet`);
  return vscode.window.showQuickPick(
    list.map((d) => d.name),
    { title: `ModelFactory: submit ${vscode.workspace.asRelativePath(file)} to which Datanet?` },
  );
}
