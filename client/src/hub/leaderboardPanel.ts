// The leaderboard of a Datanet as a webview. It runs no script at all: the host renders the table
// (every value escaped) under a Content-Security-Policy of `default-src 'none'` with one nonce'd
// stylesheet, so there is no message from the page to trust. Refreshing re-renders from the hub.
import * as vscode from 'vscode';
import { createNonce } from '../panels/html';
import { showScriptFreePage } from '../panels/webviewHost';
import type { LeaderboardRow } from './hubClient';
import { leaderboardHtml } from './leaderboardHtml';

export const LEADERBOARD_VIEW_TYPE = 'modelfactory.leaderboard';

/** One panel per Datanet; showing it again re-renders it. */
export class LeaderboardPanels {
  private readonly open = new Map<string, vscode.WebviewPanel>();

  show(datanet: string, hub: string, rows: LeaderboardRow[], me: string): void {
    let panel = this.open.get(datanet);
    if (panel) panel.reveal();
    else {
      panel = vscode.window.createWebviewPanel(
        LEADERBOARD_VIEW_TYPE,
        `Leaderboard: ${datanet}`,
        vscode.ViewColumn.Active,
        {
          enableScripts: false,
          enableCommandUris: false,
          enableForms: false,
          localResourceRoots: [],
        },
      );
      this.open.set(datanet, panel);
      panel.onDidDispose(() => this.open.delete(datanet));
    }
    showScriptFreePage(panel, leaderboardHtml(datanet, hub, rows, me, createNonce()));
  }
}
