// The leaderboard page (pure string building, so tests check it): a table with every value escaped,
// under a Content-Security-Policy that allows one nonce'd stylesheet and nothing else (no script).
import { escapeHtml } from '../panels/html';
import type { LeaderboardRow } from './hubClient';

export function leaderboardCsp(nonce: string): string {
  return ["default-src 'none'", `style-src 'nonce-${nonce}'`, "base-uri 'none'", "form-action 'none'"].join('; ');
}

const STYLE = `
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 16px; }
  table { border-collapse: collapse; min-width: 520px; }
  th, td { text-align: right; padding: 4px 12px; border-bottom: 1px solid var(--vscode-panel-border, #8884); }
  th:nth-child(2), td:nth-child(2) { text-align: left; }
  tr.me td { font-weight: bold; background: var(--vscode-list-activeSelectionBackground, #8883); }
  .note { opacity: 0.75; max-width: 720px; }
`;

/** The page for `rows` (pure, so tests check it). `me` marks the caller's row. */
export function leaderboardHtml(
  datanet: string,
  hub: string,
  rows: LeaderboardRow[],
  me: string,
  nonce: string,
): string {
  const e = escapeHtml;
  const body =
    rows.length === 0
      ? '<p>No contributions yet.</p>'
      : `<table><thead><tr><th>#</th><th>contributor</th><th>accepted</th><th>rejected</th><th>rate</th><th>score</th></tr></thead><tbody>${rows
          .map(
            (r) =>
              `<tr${r.contributor === me ? ' class="me"' : ''} data-contributor="${e(r.contributor)}"><td>${r.rank}</td><td>${e(r.contributor)}</td><td>${r.accepted}</td><td>${r.rejected}</td><td>${(r.rate * 100).toFixed(0)}%</td><td>${r.score.toFixed(3)}</td></tr>`,
          )
          .join('')}</tbody></table>`;
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${e(leaderboardCsp(nonce))}">
    <style nonce="${e(nonce)}">${STYLE}</style>
    <title>Leaderboard: ${e(datanet)}</title>
  </head>
  <body>
    <h2>Leaderboard: ${e(datanet)}</h2>
    <p class="note">From ${e(hub)}. Ranked by score: the lower bound of the acceptance rate's 95% Wilson interval
    (1 of 1 does not outrank 95 of 100) plus a little for regular activity over the last 7 days. A rejection
    fixed by an accepted resubmission does not count.</p>
    ${body}
  </body>
</html>
`;
}
