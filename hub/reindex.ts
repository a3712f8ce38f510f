// Rebuilds the duplicate rows (record_exact, record_signature, record_band) when the hub's core computes
// them differently from the rows stored: hub_meta's near_scheme names the scheme of the stored rows
// (the key keeps its first name; the value now covers the exact hash too), and DEDUP_SCHEME
// (crossRecord.ts) the scheme of this hub. Each indexed contribution's file is validated
// again by the accept path's own validateContribution and its rows replaced by indexRecords, one
// transaction per contribution, oldest first. Every transaction takes one advisory lock and records
// its progress, so hubs starting together share the work instead of each doing all of it. The hub
// serves while it runs (hub/server.ts): reads, reviews and versions go on, and contributions are answered
// 503 with Retry-After until the rows are whole again, since they are checked against those rows.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DEDUP_SCHEME } from '../server/src/core/dataset/crossRecord';
import type { HubDb, Sql } from './db';
import type { FileStore } from './store';
import { indexRecords, validateContribution } from './validate';

/** The advisory lock every rebuild transaction takes (hubs on one database share the work under it). */
export const REBUILD_LOCK = 7263002;

interface Indexed {
  id: string;
  datanet_id: number;
  sha256: string;
  bytes: number;
  manifest: string;
  record_schema: string | null;
}

async function meta(q: Sql, key: string): Promise<string | undefined> {
  const [row] = await q.query<{ value: string }>('SELECT value FROM hub_meta WHERE key = $1', [key]);
  return row?.value;
}

async function setMeta(q: Sql, key: string, value: string): Promise<void> {
  await q.query(
    'INSERT INTO hub_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
    [key, value],
  );
}

/** Whether the stored duplicate rows are in this hub's scheme (nothing to rebuild). */
export async function nearIndexCurrent(db: HubDb): Promise<boolean> {
  return (await meta(db, 'near_scheme')) === DEDUP_SCHEME;
}

export interface RebuildOptions {
  /** Called after each contribution, and once with 0 done when the work is known. */
  progress?: (done: number, total: number) => void;
  /** Asked before each contribution: true stops the rebuild there (the next start goes on from it). */
  stopped?: () => boolean;
}

/**
 * Brings the stored duplicate rows to DEDUP_SCHEME, if they are in another scheme. A contribution
 * whose file is missing (or no longer validates) loses its duplicate rows, is logged, and is skipped.
 * Undefined when there was nothing to do, or when `stopped` stopped it before the end.
 */
export async function rebuildNearIndex(
  db: HubDb,
  store: FileStore,
  log: (line: string) => void,
  options: RebuildOptions = {},
): Promise<{ rebuilt: number; skipped: string[] } | undefined> {
  const stored = await meta(db, 'near_scheme');
  if (stored === DEDUP_SCHEME) return undefined;
  // The contributions that have rows in the index: accepted ones and those waiting for review.
  const list = await db.query<Indexed>(
    `SELECT c.id, c.datanet_id, c.sha256, c.bytes, m.manifest, m.record_schema
     FROM contributions c
     JOIN manifest_versions m ON m.datanet_id = c.datanet_id AND m.version = c.manifest_version
     WHERE c.verdict IN ('accepted', 'pending')
     ORDER BY c.created_at, c.id`,
  );
  const position = new Map(list.map((c, i) => [c.id, i]));
  if (list.length > 0)
    log(
      `duplicate index: stored rows are '${stored ?? 'none'}', this hub computes '${DEDUP_SCHEME}'; rebuilding ${list.length} contributions`,
    );
  let rebuilt = 0;
  const skipped: string[] = [];
  options.progress?.(0, list.length);
  for (let i = 0; i < list.length; i++) {
    if (options.stopped?.()) {
      log(
        `duplicate index: rebuild stopped at ${i} of ${list.length} contributions; the next start goes on from there`,
      );
      return undefined;
    }
    const c = list[i] as Indexed;
    const outcome = await db.tx(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1)', [REBUILD_LOCK]);
      if ((await meta(q, 'near_scheme')) === DEDUP_SCHEME) return 'finished' as const;
      // Progress: the last contribution another hub (or an earlier, interrupted start) rebuilt.
      const progress = await meta(q, `near_rebuilt:${DEDUP_SCHEME}`);
      if (progress !== undefined && (position.get(progress) ?? -1) >= i) return 'done' as const;
      await q.query('DELETE FROM record_exact WHERE contribution_id = $1', [c.id]);
      await q.query('DELETE FROM record_band WHERE contribution_id = $1', [c.id]);
      await q.query('DELETE FROM record_signature WHERE contribution_id = $1', [c.id]);
      let result = 'rebuilt';
      const size = await store.size(c.sha256);
      if (size === undefined) result = `its file ${c.sha256} is missing from the store`;
      else {
        try {
          const v = await validateContribution({
            manifestText: c.manifest,
            recordSchema: c.record_schema,
            stagedPath: store.pathOf(c.sha256),
            bytes: size,
            extension: '.jsonl',
            workDir: join(store.incomingDir, `x-${randomBytes(8).toString('hex')}`),
          });
          await indexRecords(q, Number(c.datanet_id), c.id, v);
        } catch (err) {
          result = `validating its file failed: ${(err as Error).message}`;
        }
      }
      await setMeta(q, `near_rebuilt:${DEDUP_SCHEME}`, c.id);
      return result;
    });
    if (outcome === 'finished') {
      log(`duplicate index: another hub finished the rebuild; this one rebuilt ${rebuilt}, skipped ${skipped.length}`);
      return { rebuilt, skipped };
    }
    if (outcome === 'rebuilt') rebuilt++;
    else if (outcome !== 'done') {
      skipped.push(c.id);
      log(`duplicate index: skipped contribution ${c.id} (its records are no longer found as duplicates): ${outcome}`);
    }
    options.progress?.(i + 1, list.length);
    if (list.length > 0 && ((i + 1) % 100 === 0 || i + 1 === list.length))
      log(`duplicate index: ${i + 1} of ${list.length} contributions`);
  }
  await db.tx(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock($1)', [REBUILD_LOCK]);
    await setMeta(q, 'near_scheme', DEDUP_SCHEME);
    await q.query("DELETE FROM hub_meta WHERE key LIKE 'near_rebuilt:%'");
  });
  if (list.length > 0) log(`duplicate index: rebuilt ${rebuilt}, skipped ${skipped.length}; now '${DEDUP_SCHEME}'`);
  return { rebuilt, skipped };
}
