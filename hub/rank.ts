// The leaderboard's score: how sure we are that a contributor's uploads are accepted, plus a small
// reward for regular recent activity.
//
//   score = wilson(accepted, accepted + rejected) + ACTIVITY_WEIGHT * activeDays / ACTIVITY_DAYS
//
// wilson(a, n) is the lower bound of the 95% Wilson score interval of the acceptance rate a/n (0 when
// n = 0): 1 of 1 scores 0.21, 95 of 100 scores 0.89, so volume with quality beats a lucky single.
// activeDays counts the distinct days among the last ACTIVITY_DAYS (today included) on which the
// contributor submitted anything: contributing a little every day is worth at most ACTIVITY_WEIGHT,
// enough to order near-equal rates, never enough to lift a poor rate over a good one.
// A rejected contribution superseded by an accepted one is not counted: rejections teach, they do
// not punish.

export const WILSON_Z = 1.96;
export const ACTIVITY_DAYS = 7;
export const ACTIVITY_WEIGHT = 0.02;

export function wilsonLowerBound(accepted: number, total: number, z = WILSON_Z): number {
  if (total <= 0) return 0;
  const p = accepted / total;
  const z2 = z * z;
  const centre = p + z2 / (2 * total);
  const margin = z * Math.sqrt((p * (1 - p)) / total + z2 / (4 * total * total));
  return Math.max(0, (centre - margin) / (1 + z2 / total));
}

export interface LeaderboardRow {
  contributor: string;
  accepted: number;
  rejected: number;
  rate: number;
  score: number;
  rank: number;
}

export function rankContributors(
  rows: { contributor: string; accepted: number; rejected: number; activeDays: number }[],
): LeaderboardRow[] {
  const scored = rows.map((r) => {
    const total = r.accepted + r.rejected;
    const score =
      wilsonLowerBound(r.accepted, total) + (ACTIVITY_WEIGHT * Math.min(r.activeDays, ACTIVITY_DAYS)) / ACTIVITY_DAYS;
    return {
      contributor: r.contributor,
      accepted: r.accepted,
      rejected: r.rejected,
      rate: total === 0 ? 0 : round(r.accepted / total),
      score: round(score),
      rank: 0,
    };
  });
  scored.sort((a, b) => b.score - a.score || b.accepted - a.accepted || a.contributor.localeCompare(b.contributor));
  scored.forEach((r, i) => (r.rank = i > 0 && scored[i - 1]!.score === r.score ? scored[i - 1]!.rank : i + 1));
  return scored;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
