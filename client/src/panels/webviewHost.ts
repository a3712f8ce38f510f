// Shared host side of the three webviews: locked-down options, the CSP'd HTML shell, and a message
// pump that validates every message before a panel sees it (SECURITY.md rules 2 and 3).
import * as vscode from 'vscode';
import { createNonce, renderWebviewHtml } from './html';

export type WebviewBundle = 'hyperparameters' | 'dashboard' | 'playground' | 'evaluation';

/** Options for a panel of `bundle`: scripts on, nothing loadable outside `dist/webviews`. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    enableCommandUris: false,
    enableForms: false,
    retainContextWhenHidden: false,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webviews')],
  };
}

/** Renders the shell for `bundle` into `webview`, with a fresh nonce. */
export function renderInto(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  bundle: WebviewBundle,
  title: string,
): void {
  const asset = (...path: string[]) =>
    webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webviews', ...path)).toString();
  webview.options = { ...webviewOptions(extensionUri) };
  webview.html = renderWebviewHtml({
    cspSource: webview.cspSource,
    nonce: createNonce(),
    title,
    scriptUri: asset(`${bundle}.js`),
    styleUris: [asset('codicons', 'codicon.css'), asset(`${bundle}.css`)],
  });
}

/**
 * Delivers the webview's messages to `handler` after `parse` accepts them. A refused message is logged
 * (its type only, never its content) and dropped: no file is touched and no process started for it.
 */
export function receiveValidated<M>(
  webview: vscode.Webview,
  parse: (raw: unknown) => M | null,
  handler: (message: M) => void | Promise<void>,
  log: vscode.LogOutputChannel,
): vscode.Disposable {
  return webview.onDidReceiveMessage(async (raw: unknown) => {
    const message = parse(raw);
    if (message === null) {
      const type =
        typeof raw === 'object' && raw !== null ? String((raw as { type?: unknown }).type).slice(0, 40) : typeof raw;
      log.warn(`Refused a malformed webview message (type ${JSON.stringify(type)})`);
      return;
    }
    try {
      await handler(message);
    } catch (err) {
      log.error(`Webview message handler failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
}

/** A panel kind with at most one open panel (the dashboard, the playground). */
export interface SingletonPanel {
  readonly panel: vscode.WebviewPanel;
}

/**
 * Reveals the open panel of this kind (`onReveal` lets it take new arguments) or creates one, and
 * returns the panel now current.
 */
export function revealOrCreate<P extends SingletonPanel>(
  current: P | undefined,
  kind: { viewType: string; title: string; extensionUri: vscode.Uri },
  create: (panel: vscode.WebviewPanel) => P,
  onReveal: (existing: P) => void,
): P {
  if (current) {
    current.panel.reveal();
    onReveal(current);
    return current;
  }
  const panel = vscode.window.createWebviewPanel(
    kind.viewType,
    kind.title,
    vscode.ViewColumn.Active,
    webviewOptions(kind.extensionUri),
  );
  return create(panel);
}

/** Restores a panel of this kind after a reload, unless one is open already (then the extra one closes). */
export function registerSingletonSerializer(
  viewType: string,
  isOpen: () => boolean,
  restore: (panel: vscode.WebviewPanel) => void,
): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(viewType, {
    deserializeWebviewPanel: async (panel) => {
      if (isOpen()) panel.dispose();
      else restore(panel);
    },
  });
}

/**
 * Shows a page that runs no script at all (the hub's leaderboard): the panel must have scripts off, and the
 * page must carry a `default-src 'none'` policy and no script element. With `renderInto`, the only places
 * webview HTML is set (test/client/webviewSecurity.test.ts holds that).
 */
export function showScriptFreePage(panel: vscode.WebviewPanel, html: string): void {
  if (panel.webview.options.enableScripts) throw new Error('bug: a script-free page in a panel that runs scripts');
  if (
    !/http-equiv="Content-Security-Policy" content="default-src (?:'|&#39;)none(?:'|&#39;)/.test(html) ||
    /<script/i.test(html)
  ) {
    throw new Error("bug: a script-free page needs a default-src 'none' policy and no script");
  }
  panel.webview.html = html;
}
