// A contribution is validated by the same core and the same entry point as `modelfactory lint`
// (lintDatasetFileOnNode -> ModelFactoryService.lintDatasetFile): the hub lays the Datanet's manifest
// and the upload out in a private folder, so every rule, severity override and limit applies as it
// does in the editor. The hub then checks each record's dedup/exact hash and dedup/near signature
// (handed over by the stream's onRecordKeys) against the Datanet's accepted records in the database.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { BANDS, BINS, signatureSimilarity } from '../server/src/core/dataset/dedupNear';
import { RULES } from '../server/src/core/rules';
import { ModelFactoryService } from '../server/src/core/service';
import { DEFAULT_SETTINGS } from '../server/src/core/settings';
import type { Finding, Severity } from '../server/src/core/types';
import { nodeEnvironment } from '../server/src/nodeFs';
import { lintDatasetFileOnNode } from '../server/src/parallel/lintFile';
import type { Sql } from './db';

export const HUB_VERSION = '0.1.0';

/** The version of the rules a receipt was judged by: the hub's version and a digest of every rule id and default severity. */
export const RULES_VERSION = `${HUB_VERSION}+${createHash('sha256')
  .update(JSON.stringify(RULES.map((r) => [r.id, r.defaultSeverity])))
  .digest('hex')
  .slice(0, 12)}`;

export interface ReceiptFinding {
  /** 1-based line (0: the whole file). */
  line: number;
  rule: string;
  severity: Severity;
  message: string;
}

/** Findings kept in a receipt; the counts still cover every record. */
export const MAX_RECEIPT_FINDINGS = 1000;

export interface Validated {
  records: number;
  findings: Finding[];
  errorLines: Set<number>;
  /** Records with a hash, in line order. */
  lines: number[];
  hashes: number[];
  /** Per entry of `lines`: the index of its signature in `signatures`, or -1. */
  signatureOf: number[];
  signatures: Uint8Array;
  bandKeys: Int32Array;
  signatureCount: number;
  severityOf: (rule: string) => Severity | undefined;
  nearThreshold: number;
}

/**
 * Validates a staged upload as the file `fileName` of the Datanet whose manifest is `manifestText`.
 * `workDir` is a fresh private folder (removed afterwards); the upload is hard-linked into it.
 */
export async function validateContribution(opts: {
  manifestText: string;
  recordSchema?: string | null;
  stagedPath: string;
  bytes: number;
  extension: string;
  workDir: string;
}): Promise<Validated> {
  const { workDir } = opts;
  await mkdir(workDir, { recursive: true });
  try {
    const manifest = parseYaml(opts.manifestText) as Record<string, unknown>;
    const contribution = `contribution${opts.extension}`;
    manifest['files'] = [contribution];
    // The hub's ledger enforces daily caps; the core's file-time caps do not apply to an upload.
    const limits = manifest['limits'] as Record<string, unknown> | undefined;
    if (limits) {
      delete limits['daily_mb'];
      delete limits['daily_files'];
    }
    if (opts.recordSchema) {
      manifest['record_schema'] = 'record.schema.json';
      await writeFile(join(workDir, 'record.schema.json'), opts.recordSchema);
    } else delete manifest['record_schema'];
    await writeFile(join(workDir, 'datanet.yaml'), stringifyYaml(manifest));
    const path = join(workDir, contribution);
    // A hard link costs nothing; a file system without them gets a copy.
    await link(opts.stagedPath, path).catch(() => copyFile(opts.stagedPath, path));

    const service = new ModelFactoryService(nodeEnvironment(), { ...DEFAULT_SETTINGS });
    const policy = await service.datasetPolicy(path);
    const findings: Finding[] = [];
    const errorLines = new Set<number>();
    const lines: number[] = [];
    const hashes: number[] = [];
    const signatureOf: number[] = [];
    let signatures = new Uint8Array(BINS * 1024);
    let bandKeys = new Int32Array(BANDS * 1024);
    let signatureCount = 0;
    const stats = await lintDatasetFileOnNode(
      service,
      path,
      opts.bytes,
      createReadStream(path, { highWaterMark: 1 << 20 }),
      (f) => {
        findings.push(f);
        if (f.severity === 'error') errorLines.add(f.range.start.line);
      },
      undefined,
      {
        jobs: 1,
        adjust: (o) => ({
          ...o,
          onRecordKeys: (line, hash, signature, keys) => {
            lines.push(line);
            hashes.push(hash);
            if (!signature || !keys) {
              signatureOf.push(-1);
              return;
            }
            if ((signatureCount + 1) * BINS > signatures.length) {
              const grown = new Uint8Array(signatures.length * 2);
              grown.set(signatures);
              signatures = grown;
              const grownKeys = new Int32Array(bandKeys.length * 2);
              grownKeys.set(bandKeys);
              bandKeys = grownKeys;
            }
            signatures.set(signature, signatureCount * BINS);
            for (let b = 0; b < BANDS; b++) bandKeys[signatureCount * BANDS + b] = (keys[b] ?? 0) | 0;
            signatureOf.push(signatureCount++);
          },
        }),
      },
    );
    return {
      records: stats.records,
      findings,
      errorLines,
      lines,
      hashes,
      signatureOf,
      signatures: signatures.subarray(0, signatureCount * BINS),
      bandKeys: bandKeys.subarray(0, signatureCount * BANDS),
      signatureCount,
      severityOf: policy.severityOf,
      nearThreshold: policy.options.nearThreshold,
    };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

// The index is probed first (a materialized CTE), then the few hits are joined to their contributions:
// left to itself the planner may loop over every accepted contribution and probe the index for each.
const EXACT_QUERY = `
  WITH hits AS MATERIALIZED (
    SELECT hash, contribution_id, line FROM record_exact WHERE datanet_id = $1 AND hash = ANY($2::bigint[])
  )
  SELECT h.hash, h.contribution_id, h.line FROM hits h
  JOIN contributions c ON c.id = h.contribution_id AND c.verdict = 'accepted'`;

const NEAR_QUERY = `
  WITH hits AS MATERIALIZED (
    SELECT band_key, contribution_id, line FROM record_band WHERE datanet_id = $1 AND band_key = ANY($2::int[])
  )
  SELECT h.band_key, h.contribution_id, h.line, encode(s.signature, 'hex') AS signature
  FROM hits h
  JOIN contributions c ON c.id = h.contribution_id AND c.verdict = 'accepted'
  JOIN record_signature s ON s.contribution_id = h.contribution_id AND s.line = h.line`;

/**
 * Adds dedup/exact and dedup/near findings for records that repeat an accepted record of the
 * Datanet (any contributor's), at the manifest's severities. Lines already reported as duplicates
 * within the file are not reported again.
 */
export async function crossCheck(q: Sql, datanetId: number, v: Validated): Promise<void> {
  const exactSeverity = v.severityOf('dedup/exact');
  const nearSeverity = v.severityOf('dedup/near');
  if (v.lines.length === 0 || (!exactSeverity && !nearSeverity)) return;
  const already = new Set<number>();
  for (const f of v.findings) if (f.rule === 'dedup/exact' || f.rule === 'dedup/near') already.add(f.range.start.line);
  const add = (rule: string, severity: Severity, line: number, message: string) => {
    v.findings.push({ rule, severity, message, range: { start: { line, character: 0 }, end: { line, character: 0 } } });
    if (severity === 'error') v.errorLines.add(line);
    already.add(line);
  };
  const exactHits = await q.query<{ hash: number; contribution_id: string; line: number }>(EXACT_QUERY, [
    datanetId,
    [...new Set(v.hashes)],
  ]);
  const byHash = new Map<number, { contribution_id: string; line: number }>();
  for (const h of exactHits) if (!byHash.has(Number(h.hash))) byHash.set(Number(h.hash), h);
  const exactLines = new Set<number>();
  for (let i = 0; i < v.lines.length; i++) {
    const hit = byHash.get(v.hashes[i] as number);
    const line = v.lines[i] as number;
    if (!hit) continue;
    exactLines.add(line);
    if (exactSeverity && !already.has(line)) {
      add(
        'dedup/exact',
        exactSeverity,
        line,
        `This record is already in the Datanet (line ${hit.line + 1} of accepted contribution ${hit.contribution_id}).`,
      );
    }
  }
  if (!nearSeverity || v.signatureCount === 0) return;
  // band key -> the signatures of this file that have it.
  const localByKey = new Map<number, number[]>();
  for (let s = 0; s < v.signatureCount; s++) {
    for (let b = 0; b < BANDS; b++) {
      const key = v.bandKeys[s * BANDS + b] as number;
      const list = localByKey.get(key);
      if (list) list.push(s);
      else localByKey.set(key, [s]);
    }
  }
  const lineOfSignature = new Map<number, number>();
  for (let i = 0; i < v.lines.length; i++) {
    const s = v.signatureOf[i] as number;
    if (s >= 0) lineOfSignature.set(s, v.lines[i] as number);
  }
  const candidates = await q.query<{ band_key: number; contribution_id: string; line: number; signature: string }>(
    NEAR_QUERY,
    [datanetId, [...localByKey.keys()]],
  );
  const best = new Map<number, { similarity: number; contribution_id: string; line: number }>();
  for (const c of candidates) {
    const theirs = Uint8Array.from(Buffer.from(c.signature, 'hex'));
    for (const s of localByKey.get(Number(c.band_key)) ?? []) {
      const line = lineOfSignature.get(s) as number;
      if (exactLines.has(line)) continue;
      const similarity = signatureSimilarity(v.signatures, s * BINS, theirs, 0);
      if (similarity < v.nearThreshold) continue;
      const prev = best.get(line);
      if (!prev || similarity > prev.similarity)
        best.set(line, { similarity, contribution_id: c.contribution_id, line: c.line });
    }
  }
  for (const [line, hit] of [...best].sort((a, b) => a[0] - b[0])) {
    if (already.has(line)) continue;
    add(
      'dedup/near',
      nearSeverity,
      line,
      `This record is a near duplicate (about ${Math.round(hit.similarity * 100)}% similar) of line ${hit.line + 1} of accepted contribution ${hit.contribution_id}.`,
    );
  }
}

/** Adds the contribution's records to the Datanet's duplicate index. */
export async function indexRecords(q: Sql, datanetId: number, contributionId: string, v: Validated): Promise<void> {
  if (v.lines.length === 0) return;
  await q.query(
    `INSERT INTO record_exact (contribution_id, line, datanet_id, hash)
     SELECT $1, t.l, $2, t.h FROM unnest($3::int[], $4::bigint[]) AS t(l, h)`,
    [contributionId, datanetId, v.lines, v.hashes],
  );
  if (v.signatureCount === 0) return;
  const sigLines: number[] = [];
  const sigHex: string[] = [];
  const bandLines: number[] = [];
  const bandKeys: number[] = [];
  for (let i = 0; i < v.lines.length; i++) {
    const s = v.signatureOf[i] as number;
    if (s < 0) continue;
    const line = v.lines[i] as number;
    sigLines.push(line);
    sigHex.push(Buffer.from(v.signatures.subarray(s * BINS, (s + 1) * BINS)).toString('hex'));
    for (let b = 0; b < BANDS; b++) {
      bandLines.push(line);
      bandKeys.push(v.bandKeys[s * BANDS + b] as number);
    }
  }
  await q.query(
    `INSERT INTO record_signature (contribution_id, line, signature)
     SELECT $1, t.l, decode(t.s, 'hex') FROM unnest($2::int[], $3::text[]) AS t(l, s)`,
    [contributionId, sigLines, sigHex],
  );
  await q.query(
    `INSERT INTO record_band (datanet_id, band_key, contribution_id, line)
     SELECT $1, t.k, $2, t.l FROM unnest($3::int[], $4::int[]) AS t(k, l)`,
    [datanetId, contributionId, bandKeys, bandLines],
  );
}

/** The receipt's findings: 1-based lines, at most MAX_RECEIPT_FINDINGS, errors first. */
export function receiptFindings(findings: Finding[]): ReceiptFinding[] {
  const rank = { error: 0, warning: 1, information: 2, hint: 3 } as const;
  return findings
    .map((f) => ({ line: f.range.start.line + 1, rule: f.rule, severity: f.severity, message: f.message }))
    .sort((a, b) => rank[a.severity] - rank[b.severity] || a.line - b.line)
    .slice(0, MAX_RECEIPT_FINDINGS);
}
