// What the Datanets view shows, as plain data (no `vscode`, so tests check it): the quota bar, a
// contribution's line, the caller's rank line. hubView.ts turns these into tree items.
import type { LeaderboardRow, MyDatanetView, QuotaView, Receipt } from './hubClient';

const FULL = '▰';
const EMPTY = '▱';

/** A text bar of what is left: `▰▰▰▱▱ 60% left` (`cells` cells; 0 left shows no full cell). */
export function quotaBar(used: number, max: number, cells = 10): string {
  if (!(max > 0)) return '';
  const left = Math.max(0, Math.min(1, (max - used) / max));
  const full = left === 0 ? 0 : Math.max(1, Math.round(left * cells));
  // Never 0% while something is left, never 100% once something is used.
  const pct = left === 0 ? 0 : left === 1 ? 100 : Math.min(99, Math.max(1, Math.round(left * 100)));
  return `${FULL.repeat(full)}${EMPTY.repeat(cells - full)} ${pct}% left`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1000).toFixed(1)} kB`;
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;
}

export interface QuotaLine {
  label: string;
  description: string;
  tooltip: string;
}

/**
 * Today's quota as lines: bytes and files, each the tighter of this Datanet's cap and the cap across
 * all Datanets (the hub enforces both).
 */
export function quotaLines(q: QuotaView): QuotaLine[] {
  const tighter = (used: [number, number], caps: [number | null, number]) => {
    const [inDatanet, all] = used;
    const [capDatanet, capAll] = caps;
    const leftAll = capAll - all;
    const leftDatanet = capDatanet === null ? Infinity : capDatanet - inDatanet;
    return leftDatanet < leftAll
      ? { used: inDatanet, max: capDatanet as number, where: 'this Datanet' }
      : { used: all, max: capAll, where: 'all Datanets' };
  };
  const bytes = tighter([q.datanet.bytes, q.all.bytes], [q.datanet.max_bytes, q.all.max_bytes]);
  const files = tighter([q.datanet.files, q.all.files], [q.datanet.max_files, q.all.max_files]);
  return [
    {
      label: `Today's bytes: ${formatBytes(Math.max(0, bytes.max - bytes.used))} left`,
      description: quotaBar(bytes.used, bytes.max),
      tooltip: `${formatBytes(bytes.used)} of ${formatBytes(bytes.max)} used on ${q.day} (UTC), cap of ${bytes.where}`,
    },
    {
      label: `Today's files: ${Math.max(0, files.max - files.used)} left`,
      description: quotaBar(files.used, files.max),
      tooltip: `${files.used} of ${files.max} files used on ${q.day} (UTC), cap of ${files.where}`,
    },
  ];
}

export function rankLine(view: MyDatanetView): { label: string; description: string } {
  const r: LeaderboardRow | null = view.rank;
  if (!r) return { label: 'Not ranked yet', description: 'submit a contribution to appear on the leaderboard' };
  return {
    label: `Rank ${r.rank} of ${view.contributors}`,
    description: `${Math.round(r.rate * 100)}% accepted (${r.accepted} of ${r.accepted + r.rejected}) · score ${r.score.toFixed(2)}`,
  };
}

const VERDICT_ICON: Record<Receipt['verdict'], string> = {
  accepted: 'pass',
  rejected: 'error',
  pending: 'watch',
};

export function contributionLine(c: Receipt): { label: string; description: string; icon: string; tooltip: string } {
  const superseded = c.superseded_by ? ` · superseded by ${c.superseded_by}` : '';
  return {
    label: c.file_name,
    description: `${c.verdict} · ${c.records.accepted} accepted, ${c.records.rejected} rejected · ${c.created_at.slice(0, 10)}${superseded}`,
    icon: VERDICT_ICON[c.verdict],
    tooltip: `${c.id} (sha256 ${c.sha256.slice(0, 12)}…)${c.review_reason ? `\nReview: ${c.review_reason}` : ''}`,
  };
}

/** A receipt in one sentence, for the notification after a submit. */
export function receiptSummary(r: Receipt): string {
  const n = r.records.accepted + r.records.rejected;
  const head =
    r.verdict === 'accepted'
      ? `accepted by '${r.datanet}'`
      : r.verdict === 'pending'
        ? `passed validation and waits for a curator's review in '${r.datanet}'`
        : `rejected by '${r.datanet}'`;
  const errors = r.findings.filter((f) => f.severity === 'error').length;
  return `${r.file_name} ${head}: ${r.records.accepted} of ${n} records accepted, ${errors} error${errors === 1 ? '' : 's'}, ${r.findings.length - errors} other finding${r.findings.length - errors === 1 ? '' : 's'} (${r.id}).`;
}

/**
 * The contribution a resubmission of `fileName` replaces: my newest rejected contribution of that name
 * not yet superseded (the hub then counts the fix instead of the rejection), or undefined.
 */
export function supersedableOf(view: MyDatanetView, fileName: string): Receipt | undefined {
  // Newest first, as the hub lists them.
  return view.contributions.find((c) => c.file_name === fileName && c.verdict === 'rejected' && !c.superseded_by);
}
