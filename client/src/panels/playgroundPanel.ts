// Host of the chat playground: one panel at a time, restored after a reload by its serializer. The logic
// (checking each generation against what its column's target offers, streaming, export) is the
// vscode-free PlaygroundSession; this file ties it to a webview panel behind the message parser.
import type * as vscode from 'vscode';
import type { PlaygroundHostMessage } from '../../../webviews/src/protocol/playground';
import { parsePlaygroundWebviewMessage } from '../../../webviews/src/protocol/playground';
import { isJobId } from '../../../webviews/src/protocol/dashboard';
import type { PlaygroundDeps, PlaygroundPreset } from './playgroundSession';
import { PlaygroundSession } from './playgroundSession';
import { receiveValidated, registerSingletonSerializer, renderInto, revealOrCreate } from './webviewHost';

export type { AdapterInfo, PlaygroundDeps, PlaygroundPreset } from './playgroundSession';
export { TOKEN_BATCH_MS } from './playgroundSession';

export const PLAYGROUND_VIEW_TYPE = 'modelfactory.playground';

class PlaygroundPanel {
  static current: PlaygroundPanel | undefined;

  private readonly disposables: vscode.Disposable[] = [];
  private readonly session: PlaygroundSession;

  constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    deps: PlaygroundDeps,
    preset: PlaygroundPreset | null,
  ) {
    this.session = new PlaygroundSession(
      deps,
      (message: PlaygroundHostMessage) => void panel.webview.postMessage(message),
      preset,
    );
    renderInto(panel.webview, extensionUri, 'playground', 'Chat Playground');
    this.disposables.push(
      receiveValidated(panel.webview, parsePlaygroundWebviewMessage, (m) => this.session.onMessage(m), deps.log),
    );
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
  }

  usePreset(preset: PlaygroundPreset): void {
    this.session.usePreset(preset);
  }

  dispose(): void {
    if (PlaygroundPanel.current === this) PlaygroundPanel.current = undefined;
    this.session.dispose();
    while (this.disposables.length) this.disposables.pop()!.dispose();
  }
}

/** Opens the playground (or reveals the open one), with `preset`'s adapter chosen when given. */
export function openPlayground(
  context: vscode.ExtensionContext,
  deps: PlaygroundDeps,
  preset?: PlaygroundPreset,
): void {
  const valid =
    preset && isJobId(preset.adapterJobId) ? { target: preset.target, adapterJobId: preset.adapterJobId } : null;
  PlaygroundPanel.current = revealOrCreate(
    PlaygroundPanel.current,
    { viewType: PLAYGROUND_VIEW_TYPE, title: 'Chat Playground', extensionUri: context.extensionUri },
    (panel) => new PlaygroundPanel(panel, context.extensionUri, deps, valid),
    (open) => valid && open.usePreset(valid),
  );
}

/** Restores a playground left open when VS Code reloads; call during activation. */
export function registerPlaygroundSerializer(
  context: vscode.ExtensionContext,
  deps: PlaygroundDeps,
): vscode.Disposable {
  return registerSingletonSerializer(
    PLAYGROUND_VIEW_TYPE,
    () => PlaygroundPanel.current !== undefined,
    (panel) => (PlaygroundPanel.current = new PlaygroundPanel(panel, context.extensionUri, deps, null)),
  );
}
