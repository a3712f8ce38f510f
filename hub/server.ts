// The Datanet hub's HTTP JSON API (fastify). Every route under /v1 but /v1/health needs a bearer
// token; each checks the token's role and, for a token limited to some Datanets, the Datanet.
// Submits validate outside any transaction, then decide inside one that locks the Datanet's row (so
// the duplicate index is consistent) and the contributor's quota rows for the day (so caps hold under
// any concurrency); the upload is moved to its content address before that transaction commits.
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { asManifest, type DatanetManifest } from '../server/src/core/datanet/manifest';
import type { HubDb, Sql } from './db';
import { nearIndexCurrent, rebuildNearIndex } from './reindex';
import { rankContributors, type LeaderboardRow } from './rank';
import { FileStore, TooLargeError, writeAll, type StagedFile } from './store';
import { createToken, hashToken, ROLES, roleAtLeast, type Role } from './tokens';
import { checkManifest } from './manifestCheck';
import {
  crossCheck,
  indexRecords,
  receiptFindings,
  RULES_VERSION,
  validateContribution,
  type Validated,
} from './validate';

export interface HubOptions {
  db: HubDb;
  dataDir: string;
  /** Largest upload whatever the manifest says (default 256 MB). */
  maxUploadBytes?: number;
  /** Caps per contributor per day across all Datanets (default 10 MB and 20 files, as on OpenLedger). */
  dailyBytes?: number;
  dailyFiles?: number;
  /** Largest JSON request body (default 1 MB). */
  maxJsonBytes?: number;
  /** The clock, for the day a contribution counts against (tests). */
  now?: () => Date;
}

/** The near-duplicate index as /v1/health reports it; contributions wait unless it is ready. */
interface NearIndexStatus {
  state: 'ready' | 'rebuilding' | 'failed';
  /** Contributions rebuilt of `total` (while rebuilding). */
  done: number;
  total: number;
  error?: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Caller {
  name: string;
  role: Role;
  datanets: string[] | null;
}

interface DatanetRow {
  id: number;
  name: string;
  version: number;
  manifest: string;
  record_schema: string | null;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$/;
const CONTRIBUTION_ID = /^c_[0-9a-f]{24}$/;

const day = (d: Date) => d.toISOString().slice(0, 10);

export interface Receipt {
  id: string;
  sha256: string;
  verdict: 'accepted' | 'rejected' | 'pending';
  records: { accepted: number; rejected: number };
  findings: { line: number; rule: string; severity: string; message: string }[];
  rules_version: string;
  datanet: string;
  contributor: string;
  file_name: string;
  bytes: number;
  supersedes: string | null;
  superseded_by: string | null;
  review_reason: string | null;
  created_at: string;
}

/** Today's use of the daily caps: in one Datanet (its manifest's caps; null: none) and across all of them. */
export interface QuotaView {
  contributor: string;
  day: string;
  datanet: { bytes: number; files: number; max_bytes: number | null; max_files: number | null };
  all: { bytes: number; files: number; max_bytes: number; max_files: number };
}

/** `GET /v1/datanets/:name/me`: the caller's side of one Datanet (the editor's Datanets view). */
export interface MyDatanetView {
  datanet: string;
  contributor: string;
  role: Role;
  /** Newest first, at most 200; findings are left out (GET /v1/contributions/:id has them). */
  contributions: Receipt[];
  quota: QuotaView;
  /** The caller's leaderboard row; null before their first contribution. */
  rank: LeaderboardRow | null;
  contributors: number;
  /** Contributions waiting for review, for curators and owners; null for others. */
  pending_review: number | null;
}

interface ContributionRow {
  id: string;
  datanet: string;
  contributor: string;
  sha256: string;
  bytes: number;
  file_name: string;
  verdict: Receipt['verdict'];
  records_accepted: number;
  records_rejected: number;
  findings: Receipt['findings'];
  rules_version: string;
  supersedes: string | null;
  superseded_by: string | null;
  review_reason: string | null;
  created_at: Date | string;
}

function toReceipt(r: ContributionRow): Receipt {
  return {
    id: r.id,
    sha256: r.sha256,
    verdict: r.verdict,
    records: { accepted: r.records_accepted, rejected: r.records_rejected },
    findings: typeof r.findings === 'string' ? (JSON.parse(r.findings) as Receipt['findings']) : r.findings,
    rules_version: r.rules_version,
    datanet: r.datanet,
    contributor: r.contributor,
    file_name: r.file_name,
    bytes: Number(r.bytes),
    supersedes: r.supersedes,
    superseded_by: r.superseded_by,
    review_reason: r.review_reason,
    created_at: new Date(r.created_at).toISOString(),
  };
}

const CONTRIBUTION_SELECT = `
  SELECT c.id, d.name AS datanet, c.contributor, c.sha256, c.bytes, c.file_name, c.verdict, c.records_accepted,
         c.records_rejected, c.findings, c.rules_version, c.supersedes, c.superseded_by, c.review_reason, c.created_at
  FROM contributions c JOIN datanets d ON d.id = c.datanet_id`;

export async function buildHub(opts: HubOptions): Promise<FastifyInstance> {
  const { db } = opts;
  const store = new FileStore(opts.dataDir);
  await store.init();
  // After an upgrade that changed DEDUP_SCHEME the duplicate rows are rebuilt in the background: the hub serves
  // meanwhile and answers contributions 503 (they are checked against those rows) until it is done.
  const nearIndex: NearIndexStatus = { state: 'ready', done: 0, total: 0 };
  let closing = false;
  let rebuilding: Promise<void> | undefined;
  if (!(await nearIndexCurrent(db))) {
    nearIndex.state = 'rebuilding';
    const log = (line: string) => process.stderr.write(`hub: ${line}\n`);
    rebuilding = rebuildNearIndex(db, store, log, {
      progress: (done, total) => Object.assign(nearIndex, { done, total }),
      stopped: () => closing,
    }).then(
      () => {
        if (!closing) nearIndex.state = 'ready';
      },
      (err: Error) => {
        nearIndex.state = 'failed';
        nearIndex.error = err.message;
        log(
          `duplicate index: the rebuild failed, contributions are refused until a restart: ${err.stack ?? err.message}`,
        );
      },
    );
  }
  const maxUpload = opts.maxUploadBytes ?? 256 * 1024 * 1024;
  const dailyBytes = opts.dailyBytes ?? 10 * 1000 * 1000;
  const dailyFiles = opts.dailyFiles ?? 20;
  const now = opts.now ?? (() => new Date());

  // A request (an upload included) has ten minutes.
  const app = Fastify({
    bodyLimit: opts.maxJsonBytes ?? 1024 * 1024,
    logger: false,
    requestTimeout: 600_000,
  });
  // Uploads are not parsed: the handler streams them to disk under its own limit.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    // A refused upload is not read to its end: the connection closes after the answer.
    if (err instanceof HttpError && err.status === 413) reply.header('connection', 'close');
    if (err instanceof HttpError) return reply.code(err.status).send({ error: err.message });
    if (err instanceof TooLargeError) return reply.code(413).header('connection', 'close').send({ error: err.message });
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: err.message });
    }
    process.stderr.write(`hub: ${err.stack ?? String(err)}\n`);
    return reply.code(500).send({ error: 'internal error (logged on the hub)' });
  });
  app.addHook('onClose', async () => {
    closing = true;
    await rebuilding;
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` }),
  );

  const callers = new WeakMap<FastifyRequest, Caller>();
  app.addHook('onRequest', async (req) => {
    if (req.url === '/v1/health') return;
    const header = req.headers.authorization;
    if (!header)
      throw new HttpError(401, 'no token: send Authorization: Bearer <token> (set MODELFACTORY_HUB_TOKEN for the CLI)');
    const m = /^Bearer ([A-Za-z0-9_-]{16,128})$/.exec(header);
    if (!m) throw new HttpError(401, 'malformed Authorization header: expected Bearer <token>');
    const rows = await db.query<Caller>('SELECT name, role, datanets FROM tokens WHERE hash = $1', [
      hashToken(m[1] as string),
    ]);
    const caller = rows[0];
    if (!caller) throw new HttpError(401, 'unknown token');
    callers.set(req, caller);
  });

  /** The caller, who must have at least `role` and, when `datanet` is given, access to it. */
  const need = (req: FastifyRequest, role: Role, datanet?: string): Caller => {
    const caller = callers.get(req);
    if (!caller) throw new HttpError(401, 'no token');
    if (!roleAtLeast(caller.role, role)) {
      throw new HttpError(
        403,
        `this needs the ${role} role (or higher); the token of ${caller.name} has ${caller.role}`,
      );
    }
    if (datanet !== undefined && caller.datanets && !caller.datanets.includes(datanet)) {
      throw new HttpError(403, `the token of ${caller.name} is not for Datanet '${datanet}'`);
    }
    return caller;
  };

  const datanetName = (raw: unknown): string => {
    const name = String(raw ?? '');
    if (!NAME.test(name)) throw new HttpError(400, `not a Datanet name: '${name}' (lower case letters, digits, . _ -)`);
    return name;
  };

  const loadDatanet = async (q: Sql, name: string): Promise<DatanetRow> => {
    const rows = await q.query<DatanetRow>(
      `SELECT d.id, d.name, m.version, m.manifest, m.record_schema FROM datanets d
       JOIN manifest_versions m ON m.datanet_id = d.id
       WHERE d.name = $1 ORDER BY m.version DESC LIMIT 1`,
      [name],
    );
    const row = rows[0];
    if (!row) throw new HttpError(404, `no Datanet '${name}' on this hub`);
    return { ...row, id: Number(row.id) };
  };

  const manifestOf = (row: DatanetRow): DatanetManifest => {
    const m = asManifest(parseYaml(row.manifest));
    if (!m) throw new HttpError(500, `the stored manifest of '${row.name}' is unreadable`);
    return m;
  };

  app.get('/v1/health', async () => ({
    ok: true,
    rules_version: RULES_VERSION,
    storage: db.kind,
    near_index: { ...nearIndex },
  }));

  app.get('/v1/me', async (req) => {
    const c = need(req, 'reader');
    return { name: c.name, role: c.role, datanets: c.datanets };
  });

  // Tokens, made by an owner over the API (the CLI's `token create --hub`), as `token create --data` does.
  app.post('/v1/tokens', async (req, reply) => {
    const caller = need(req, 'owner');
    const body = req.body as { name?: unknown; role?: unknown; datanets?: unknown } | undefined;
    const datanets = body?.datanets;
    if (typeof body?.name !== 'string' || typeof body.role !== 'string')
      throw new HttpError(400, 'send {"name", "role", "datanets"?}');
    if (
      datanets !== undefined &&
      !(Array.isArray(datanets) && datanets.every((d) => typeof d === 'string' && NAME.test(d)))
    ) {
      throw new HttpError(400, 'datanets must be a list of Datanet names');
    }
    // An owner limited to some Datanets makes tokens limited to (some of) those only.
    const limitedTo = caller.datanets;
    if (
      limitedTo &&
      !(Array.isArray(datanets) && datanets.length > 0 && datanets.every((d) => limitedTo.includes(d as string)))
    ) {
      throw new HttpError(
        403,
        `the token of ${caller.name} is for ${limitedTo.join(', ')} only: name those Datanets (datanets)`,
      );
    }
    try {
      const token = await createToken(db, body.name, body.role, datanets as string[] | undefined);
      return reply.code(201).send({ name: body.name, role: body.role, token });
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
  });

  // Datanets and their manifests.
  app.post('/v1/datanets', async (req, reply) => {
    const caller = need(req, 'owner');
    const body = req.body as { manifest?: unknown; record_schema?: unknown } | undefined;
    if (!body || typeof body.manifest !== 'string')
      throw new HttpError(400, 'send {"manifest": "<datanet.yaml text>"}');
    const recordSchema = typeof body.record_schema === 'string' ? body.record_schema : null;
    const checked = await checkManifest(
      body.manifest,
      recordSchema,
      join(store.incomingDir, `m-${randomBytes(8).toString('hex')}`),
    );
    if (!checked.manifest) {
      return reply.code(400).send({ error: 'the manifest is not valid', findings: checked.findings });
    }
    const name = checked.manifest.name;
    need(req, 'owner', name);
    const result = await db.tx(async (q) => {
      await q.query('INSERT INTO datanets (name, created_by) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
        name,
        caller.name,
      ]);
      const [dn] = await q.query<{ id: number }>('SELECT id FROM datanets WHERE name = $1 FOR UPDATE', [name]);
      const id = Number(dn!.id);
      const [latest] = await q.query<{ version: number; manifest: string; record_schema: string | null }>(
        'SELECT version, manifest, record_schema FROM manifest_versions WHERE datanet_id = $1 ORDER BY version DESC LIMIT 1',
        [id],
      );
      if (latest && latest.manifest === body.manifest && latest.record_schema === recordSchema) {
        return { name, version: latest.version, created: false };
      }
      const version = (latest?.version ?? 0) + 1;
      await q.query(
        'INSERT INTO manifest_versions (datanet_id, version, manifest, record_schema, created_by) VALUES ($1, $2, $3, $4, $5)',
        [id, version, body.manifest, recordSchema, caller.name],
      );
      return { name, version, created: version === 1 };
    });
    return reply.code(result.created ? 201 : 200).send(result);
  });

  app.get('/v1/datanets', async (req) => {
    const caller = need(req, 'reader');
    const rows = await db.query<{ name: string; version: number }>(
      `SELECT d.name, max(m.version) AS version FROM datanets d JOIN manifest_versions m ON m.datanet_id = d.id
       GROUP BY d.name ORDER BY d.name`,
    );
    return rows.filter((r) => !caller.datanets || caller.datanets.includes(r.name));
  });

  app.get('/v1/datanets/:name', async (req) => {
    const name = datanetName((req.params as { name: string }).name);
    need(req, 'reader', name);
    const dn = await loadDatanet(db, name);
    const versions = await db.query<{ version: number; sha256: string; records: number; created_at: string }>(
      'SELECT version, sha256, records, created_at FROM versions WHERE datanet_id = $1 ORDER BY version',
      [dn.id],
    );
    return { name, manifest_version: dn.version, manifest: dn.manifest, versions };
  });

  // Contributions.
  app.post('/v1/datanets/:name/contributions', async (req, reply) => {
    const name = datanetName((req.params as { name: string }).name);
    const caller = need(req, 'contributor', name);
    const query = req.query as { file_name?: string; supersedes?: string };
    const fileName = String(query.file_name ?? 'contribution.jsonl');
    if (!FILE_NAME.test(fileName) || fileName.includes('..')) {
      throw new HttpError(400, `not an acceptable file name: '${fileName}' (a plain name, no folders)`);
    }
    const supersedes = query.supersedes === undefined ? null : String(query.supersedes);
    if (supersedes !== null && !CONTRIBUTION_ID.test(supersedes))
      throw new HttpError(400, `not a contribution id: '${supersedes}'`);
    if (!req.headers['content-type']?.startsWith('application/octet-stream')) {
      throw new HttpError(415, 'send the file as Content-Type: application/octet-stream');
    }
    if (nearIndex.state !== 'ready') {
      await store.drainRefused(req.body as Readable);
      reply.header('retry-after', '60').header('connection', 'close');
      throw new HttpError(
        503,
        nearIndex.state === 'rebuilding'
          ? `this hub is rebuilding its duplicate index after an upgrade (${nearIndex.done} of ${nearIndex.total} contributions); it takes contributions again when that is done: retry in a minute`
          : `this hub could not rebuild its duplicate index (${nearIndex.error ?? 'see its log'}); it takes no contributions until it is restarted with the cause fixed`,
      );
    }
    const dn = await loadDatanet(db, name);
    const manifest = manifestOf(dn);
    const ext = fileName.includes('.') ? fileName.slice(fileName.lastIndexOf('.')).toLowerCase() : '';
    const types = manifest.file_types ?? ['.jsonl'];
    if (!types.includes(ext))
      throw new HttpError(415, `Datanet '${name}' accepts ${types.join(', ')} files, not '${ext || fileName}'`);
    if (ext !== '.jsonl')
      throw new HttpError(
        415,
        `Datanet '${name}' lists ${ext}, but this hub takes JSON Lines only: receipts, the duplicate index and published versions are per line. Write the array as one record per line (.jsonl) and submit that`,
      );
    const limit = Math.min(
      maxUpload,
      manifest.limits?.max_file_mb !== undefined ? Math.floor(manifest.limits.max_file_mb * 1e6) : maxUpload,
    );
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      await store.drainRefused(req.body as Readable);
      throw new HttpError(
        413,
        `the file is ${declared} bytes; Datanet '${name}' takes at most ${limit} bytes per file`,
      );
    }
    let staged: StagedFile;
    try {
      staged = await store.stage(req.body as Readable, limit);
    } catch (err) {
      if (err instanceof TooLargeError)
        throw new HttpError(413, `the file is larger than ${limit} bytes, the most Datanet '${name}' takes per file`);
      throw err;
    }
    let committed = false;
    try {
      const validated = await validateContribution({
        manifestText: dn.manifest,
        recordSchema: dn.record_schema,
        stagedPath: staged.tmpPath,
        bytes: staged.bytes,
        extension: ext,
        workDir: join(store.incomingDir, `v-${randomBytes(8).toString('hex')}`),
      });
      const receipt = await db.tx(async (q) => {
        await q.query('SELECT id FROM datanets WHERE id = $1 FOR UPDATE', [dn.id]);
        const today = day(now());
        await reserveQuota(q, caller.name, today, dn.id, staged.bytes, manifest, name);
        if (supersedes) {
          const [old] = await q.query<{
            datanet_id: number;
            contributor: string;
            verdict: string;
            superseded_by: string | null;
          }>('SELECT datanet_id, contributor, verdict, superseded_by FROM contributions WHERE id = $1 FOR UPDATE', [
            supersedes,
          ]);
          if (!old || Number(old.datanet_id) !== dn.id)
            throw new HttpError(404, `no contribution ${supersedes} in Datanet '${name}'`);
          if (old.contributor !== caller.name)
            throw new HttpError(403, `contribution ${supersedes} is not yours to supersede`);
          if (old.verdict !== 'rejected')
            throw new HttpError(
              409,
              `contribution ${supersedes} is ${old.verdict}; only a rejected contribution can be superseded`,
            );
          if (old.superseded_by)
            throw new HttpError(409, `contribution ${supersedes} is already superseded by ${old.superseded_by}`);
        }
        await crossCheck(q, dn.id, validated);
        const rejected = Math.min(validated.records, validated.errorLines.size);
        const verdict: Receipt['verdict'] =
          validated.errorLines.size > 0 ? 'rejected' : manifest.review?.required ? 'pending' : 'accepted';
        const id = `c_${randomBytes(12).toString('hex')}`;
        const findings = receiptFindings(validated.findings);
        // The file reaches its address before the rows that name it commit; a crash in between leaves an orphan.
        await store.commit(staged);
        committed = true;
        await q.query(
          `INSERT INTO contributions (id, datanet_id, contributor, sha256, bytes, file_name, verdict, records_accepted,
             records_rejected, findings, rules_version, manifest_version, supersedes, day)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
          [
            id,
            dn.id,
            caller.name,
            staged.sha256,
            staged.bytes,
            fileName,
            verdict,
            validated.records - rejected,
            rejected,
            JSON.stringify(findings),
            RULES_VERSION,
            dn.version,
            supersedes,
            today,
          ],
        );
        if (supersedes) await q.query('UPDATE contributions SET superseded_by = $1 WHERE id = $2', [id, supersedes]);
        if (verdict !== 'rejected') await indexRecords(q, dn.id, id, validated);
        const [row] = await q.query<ContributionRow>(`${CONTRIBUTION_SELECT} WHERE c.id = $1`, [id]);
        return toReceipt(row!);
      });
      return reply.code(201).send(receipt);
    } finally {
      if (!committed) await store.discard(staged);
    }
  });

  /** Counts the upload against the contributor's day, across all Datanets and in this one, under row locks. */
  async function reserveQuota(
    q: Sql,
    contributor: string,
    today: string,
    datanetId: number,
    bytes: number,
    manifest: DatanetManifest,
    name: string,
  ) {
    // Always the same order (all Datanets, then this one), so concurrent submits cannot deadlock.
    for (const id of [0, datanetId]) {
      await q.query(
        'INSERT INTO quota_days (contributor, day, datanet_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [contributor, today, id],
      );
      const [row] = await q.query<{ bytes: number; files: number }>(
        'SELECT bytes, files FROM quota_days WHERE contributor = $1 AND day = $2 AND datanet_id = $3 FOR UPDATE',
        [contributor, today, id],
      );
      const used = { bytes: Number(row!.bytes), files: Number(row!.files) };
      const capBytes =
        id === 0 ? dailyBytes : manifest.limits?.daily_mb !== undefined ? manifest.limits.daily_mb * 1e6 : Infinity;
      const capFiles = id === 0 ? dailyFiles : (manifest.limits?.daily_files ?? Infinity);
      const where = id === 0 ? 'across all Datanets' : `in Datanet '${name}'`;
      if (used.files + 1 > capFiles) {
        throw new HttpError(
          429,
          `daily cap reached: ${contributor} has submitted ${used.files} of ${capFiles} files today ${where}`,
        );
      }
      if (used.bytes + bytes > capBytes) {
        throw new HttpError(
          429,
          `daily cap reached: ${contributor} has submitted ${used.bytes} bytes today ${where}; this file (${bytes} bytes) would pass the cap of ${capBytes}`,
        );
      }
      await q.query(
        'UPDATE quota_days SET bytes = bytes + $1, files = files + 1 WHERE contributor = $2 AND day = $3 AND datanet_id = $4',
        [bytes, contributor, today, id],
      );
    }
  }

  app.get('/v1/datanets/:name/contributions', async (req) => {
    const name = datanetName((req.params as { name: string }).name);
    const caller = need(req, 'reader', name);
    const status = (req.query as { status?: string }).status;
    if (status !== undefined && !['accepted', 'rejected', 'pending'].includes(status))
      throw new HttpError(400, `unknown status '${status}'`);
    const dn = await loadDatanet(db, name);
    const seesAll = roleAtLeast(caller.role, 'curator');
    const rows = await db.query<ContributionRow>(
      `${CONTRIBUTION_SELECT} WHERE c.datanet_id = $1 AND ($2::text IS NULL OR c.verdict = $2) AND ($3::text IS NULL OR c.contributor = $3)
       ORDER BY c.created_at, c.id`,
      [dn.id, status ?? null, seesAll ? null : caller.name],
    );
    return rows.map((r) => ({ ...toReceipt(r), findings: undefined }));
  });

  const contributionId = (raw: unknown) => {
    const id = String(raw ?? '');
    if (!CONTRIBUTION_ID.test(id)) throw new HttpError(400, `not a contribution id: '${id}'`);
    return id;
  };

  app.get('/v1/contributions/:id', async (req) => {
    const id = contributionId((req.params as { id: string }).id);
    const [row] = await db.query<ContributionRow>(`${CONTRIBUTION_SELECT} WHERE c.id = $1`, [id]);
    if (!row) throw new HttpError(404, `no contribution ${id}`);
    const caller = need(req, 'reader', row.datanet);
    if (!roleAtLeast(caller.role, 'curator') && row.contributor !== caller.name) {
      throw new HttpError(403, `contribution ${id} is not yours; curators see every contribution`);
    }
    return toReceipt(row);
  });

  app.post('/v1/contributions/:id/review', async (req) => {
    const id = contributionId((req.params as { id: string }).id);
    const body = req.body as { decision?: unknown; reason?: unknown } | undefined;
    const decision = body?.decision;
    const reason = typeof body?.reason === 'string' ? body.reason.trim() : '';
    if (decision !== 'approve' && decision !== 'reject')
      throw new HttpError(400, 'send {"decision": "approve" | "reject", "reason": "..."}');
    if (decision === 'reject' && !reason) throw new HttpError(400, 'a rejection needs a reason, for the contributor');
    if (reason.length > 2000) throw new HttpError(400, 'the reason is longer than 2000 characters');
    const [meta] = await db.query<ContributionRow>(`${CONTRIBUTION_SELECT} WHERE c.id = $1`, [id]);
    if (!meta) throw new HttpError(404, `no contribution ${id}`);
    const caller = need(req, 'curator', meta.datanet);
    const dn = await loadDatanet(db, meta.datanet);
    // Records accepted while this one waited may now duplicate it: its keys are computed again, and
    // checked in the transaction as a submit's are.
    const again =
      decision === 'approve'
        ? await validateContribution({
            manifestText: dn.manifest,
            recordSchema: dn.record_schema,
            stagedPath: store.pathOf(meta.sha256),
            bytes: Number(meta.bytes),
            extension: '.jsonl',
            workDir: join(store.incomingDir, `r-${randomBytes(8).toString('hex')}`),
          })
        : undefined;
    return db.tx(async (q) => {
      await q.query('SELECT id FROM datanets WHERE id = $1 FOR UPDATE', [dn.id]);
      const [row] = await q.query<{ verdict: string }>('SELECT verdict FROM contributions WHERE id = $1 FOR UPDATE', [
        id,
      ]);
      if (row!.verdict !== 'pending')
        throw new HttpError(409, `contribution ${id} is ${row!.verdict}, not pending review`);
      if (again) {
        const before = again.findings.length;
        await crossCheck(q, dn.id, again);
        const added = again.findings.slice(before).filter((f) => f.severity === 'error');
        if (added.length > 0) {
          throw new HttpError(
            409,
            `approving ${id} would accept records already accepted since it was submitted: ` +
              added
                .slice(0, 5)
                .map((f) => `line ${f.range.start.line + 1}: ${f.message}`)
                .join('; ') +
              (added.length > 5 ? ` (and ${added.length - 5} more)` : '') +
              '; reject it with that reason',
          );
        }
      }
      const verdict = decision === 'approve' ? 'accepted' : 'rejected';
      await q.query('UPDATE contributions SET verdict = $1, review_reason = $2, reviewed_by = $3 WHERE id = $4', [
        verdict,
        reason || null,
        caller.name,
        id,
      ]);
      if (verdict === 'rejected') {
        await q.query('DELETE FROM record_band WHERE contribution_id = $1', [id]);
        await q.query('DELETE FROM record_signature WHERE contribution_id = $1', [id]);
        await q.query('DELETE FROM record_exact WHERE contribution_id = $1', [id]);
      }
      const [updated] = await q.query<ContributionRow>(`${CONTRIBUTION_SELECT} WHERE c.id = $1`, [id]);
      return toReceipt(updated!);
    });
  });

  /** The caller's use of today's caps, in this Datanet and across all of them. */
  const quotaOf = async (caller: Caller, dn: DatanetRow): Promise<QuotaView> => {
    const manifest = manifestOf(dn);
    const today = day(now());
    const rows = await db.query<{ datanet_id: number; bytes: number; files: number }>(
      'SELECT datanet_id, bytes, files FROM quota_days WHERE contributor = $1 AND day = $2 AND datanet_id IN (0, $3)',
      [caller.name, today, dn.id],
    );
    const used = (id: number) => rows.find((r) => Number(r.datanet_id) === id) ?? { bytes: 0, files: 0 };
    return {
      contributor: caller.name,
      day: today,
      datanet: {
        bytes: Number(used(dn.id).bytes),
        files: Number(used(dn.id).files),
        max_bytes: manifest.limits?.daily_mb !== undefined ? manifest.limits.daily_mb * 1e6 : null,
        max_files: manifest.limits?.daily_files ?? null,
      },
      all: { bytes: Number(used(0).bytes), files: Number(used(0).files), max_bytes: dailyBytes, max_files: dailyFiles },
    };
  };

  app.get('/v1/datanets/:name/quota', async (req) => {
    const name = datanetName((req.params as { name: string }).name);
    const caller = need(req, 'reader', name);
    return quotaOf(caller, await loadDatanet(db, name));
  });

  // Everything the editor's Datanets view shows for the caller: their contributions (newest first, no
  // findings), today's quota, their row of the leaderboard, and how many contributions await review
  // (for curators).
  app.get('/v1/datanets/:name/me', async (req): Promise<MyDatanetView> => {
    const name = datanetName((req.params as { name: string }).name);
    const caller = need(req, 'reader', name);
    const dn = await loadDatanet(db, name);
    const mine = await db.query<ContributionRow>(
      `${CONTRIBUTION_SELECT} WHERE c.datanet_id = $1 AND c.contributor = $2 ORDER BY c.created_at DESC, c.id LIMIT 200`,
      [dn.id, caller.name],
    );
    const [pending] = roleAtLeast(caller.role, 'curator')
      ? await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM contributions WHERE datanet_id = $1 AND verdict = 'pending'",
          [dn.id],
        )
      : [undefined];
    const board = await leaderboardOf(dn);
    return {
      datanet: name,
      contributor: caller.name,
      role: caller.role,
      contributions: mine.map((r) => ({ ...toReceipt(r), findings: [] })),
      quota: await quotaOf(caller, dn),
      rank: board.find((r) => r.contributor === caller.name) ?? null,
      contributors: board.length,
      pending_review: pending ? Number(pending.n) : null,
    };
  });

  app.get('/v1/datanets/:name/leaderboard', async (req) => {
    const name = datanetName((req.params as { name: string }).name);
    need(req, 'reader', name);
    return leaderboardOf(await loadDatanet(db, name));
  });

  async function leaderboardOf(dn: DatanetRow): Promise<LeaderboardRow[]> {
    const rows = await db.query<{
      id: string;
      contributor: string;
      verdict: string;
      superseded_by: string | null;
      day: string | Date;
    }>('SELECT id, contributor, verdict, superseded_by, day FROM contributions WHERE datanet_id = $1', [dn.id]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    /** A rejection whose chain of replacements ends in an accepted contribution does not count. */
    const redeemed = (r: (typeof rows)[number]): boolean => {
      const seen = new Set<string>();
      let next = r.superseded_by;
      while (next && !seen.has(next)) {
        seen.add(next);
        const s = byId.get(next);
        if (!s) return false;
        if (s.verdict === 'accepted') return true;
        next = s.superseded_by;
      }
      return false;
    };
    const since = new Date(now().getTime() - 6 * 86400_000).toISOString().slice(0, 10);
    const per = new Map<string, { contributor: string; accepted: number; rejected: number; days: Set<string> }>();
    for (const r of rows) {
      const p = per.get(r.contributor) ?? {
        contributor: r.contributor,
        accepted: 0,
        rejected: 0,
        days: new Set<string>(),
      };
      per.set(r.contributor, p);
      const d = typeof r.day === 'string' ? r.day.slice(0, 10) : day(r.day);
      if (d >= since) p.days.add(d);
      if (r.verdict === 'accepted') p.accepted++;
      else if (r.verdict === 'rejected' && !redeemed(r)) p.rejected++;
    }
    return rankContributors([...per.values()].map((p) => ({ ...p, activeDays: p.days.size })));
  }

  // Versions.
  app.post('/v1/datanets/:name/versions', async (req, reply) => {
    const name = datanetName((req.params as { name: string }).name);
    const caller = need(req, 'curator', name);
    const dn = await loadDatanet(db, name);
    return db.tx(async (q) => {
      await q.query('SELECT id FROM datanets WHERE id = $1 FOR UPDATE', [dn.id]);
      const contributions = await q.query<{ id: string; contributor: string; sha256: string }>(
        `SELECT id, contributor, sha256 FROM contributions WHERE datanet_id = $1 AND verdict = 'accepted' ORDER BY created_at, id`,
        [dn.id],
      );
      const built = await buildVersion(store, contributions);
      const [latest] = await q.query<VersionRow>(
        'SELECT * FROM versions WHERE datanet_id = $1 ORDER BY version DESC LIMIT 1',
        [dn.id],
      );
      if (latest && latest.sha256 === built.staged.sha256) {
        await store.discard(built.staged);
        reply.code(200);
        return versionView(name, latest);
      }
      await store.commit(built.staged);
      const version = (latest?.version ?? 0) + 1;
      await q.query(
        `INSERT INTO versions (datanet_id, version, sha256, records, contributors, contributions, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          dn.id,
          version,
          built.staged.sha256,
          built.records,
          JSON.stringify(built.contributors),
          JSON.stringify(built.contributions),
          caller.name,
        ],
      );
      const [row] = await q.query<VersionRow>('SELECT * FROM versions WHERE datanet_id = $1 AND version = $2', [
        dn.id,
        version,
      ]);
      reply.code(201);
      return versionView(name, row!);
    });
  });

  const versionParam = (raw: unknown) => {
    const s = String(raw ?? '');
    if (!/^[1-9][0-9]{0,8}$/.test(s)) throw new HttpError(400, `not a version number: '${s}'`);
    return Number(s);
  };

  app.get('/v1/datanets/:name/versions/:version', async (req) => {
    const params = req.params as { name: string; version: string };
    const name = datanetName(params.name);
    need(req, 'reader', name);
    const dn = await loadDatanet(db, name);
    const [row] = await db.query<VersionRow>('SELECT * FROM versions WHERE datanet_id = $1 AND version = $2', [
      dn.id,
      versionParam(params.version),
    ]);
    if (!row) throw new HttpError(404, `Datanet '${name}' has no version ${params.version}`);
    return versionView(name, row);
  });

  app.get('/v1/datanets/:name/versions/:version/data', async (req, reply: FastifyReply) => {
    const params = req.params as { name: string; version: string };
    const name = datanetName(params.name);
    need(req, 'reader', name);
    const dn = await loadDatanet(db, name);
    const [row] = await db.query<VersionRow>('SELECT sha256 FROM versions WHERE datanet_id = $1 AND version = $2', [
      dn.id,
      versionParam(params.version),
    ]);
    if (!row) throw new HttpError(404, `Datanet '${name}' has no version ${params.version}`);
    const size = await store.size(row.sha256);
    if (size === undefined) throw new HttpError(500, `the file of version ${params.version} is missing from the store`);
    reply.header('content-type', 'application/x-ndjson').header('content-length', size).header('x-sha256', row.sha256);
    return reply.send(store.read(row.sha256));
  });

  // Files no row names: left by a crash between a file's move and its transaction's commit.
  const referenced = new Set<string>();
  for (const r of await db.query<{ sha256: string }>(
    'SELECT sha256 FROM contributions UNION SELECT sha256 FROM versions',
  ))
    referenced.add(r.sha256);
  const collected = await store.collectOrphans(referenced, db.kind === 'postgres' ? 3600_000 : 0);
  if (collected.removed > 0) process.stderr.write(`hub: removed ${collected.removed} orphaned file(s)\n`);
  void ROLES;
  return app;
}

interface VersionRow {
  version: number;
  sha256: string;
  records: number;
  contributors: Record<string, number> | string;
  contributions: { id: string; contributor: string; records: number }[] | string;
  created_at: string | Date;
}

function versionView(name: string, row: VersionRow) {
  const parse = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);
  return {
    datanet: name,
    version: row.version,
    sha256: row.sha256,
    records: row.records,
    contributors: parse(row.contributors),
    contributions: parse(row.contributions),
    created_at: new Date(row.created_at).toISOString(),
  };
}

/** The accepted records, one JSON line each, in the order they were accepted; counted per contributor and contribution. */
async function buildVersion(store: FileStore, contributions: { id: string; contributor: string; sha256: string }[]) {
  const tmpPath = join(store.incomingDir, `p-${randomBytes(12).toString('hex')}`);
  const hash = createHash('sha256');
  let bytes = 0;
  let records = 0;
  const contributors: Record<string, number> = {};
  const attribution: { id: string; contributor: string; records: number }[] = [];
  // A file handle with awaited writes, not a write stream: a failed write (a full disk) is an error of this
  // publish, never an 'error' event that nothing listens for.
  const fh = await open(tmpPath, 'wx');
  const write = async (s: string) => {
    const buf = Buffer.from(s, 'utf8');
    hash.update(buf);
    bytes += buf.length;
    await writeAll(fh, buf);
  };
  try {
    try {
      for (const c of contributions) {
        let text = await readFile(store.pathOf(c.sha256), 'utf8');
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        let n = 0;
        for (const line of text.split(/\r\n|\n|\r/)) {
          if (line.trim() === '') continue;
          await write(line + '\n');
          n++;
        }
        records += n;
        contributors[c.contributor] = (contributors[c.contributor] ?? 0) + n;
        attribution.push({ id: c.id, contributor: c.contributor, records: n });
      }
    } finally {
      await fh.close();
    }
  } catch (err) {
    await store.discard({ tmpPath, sha256: '', bytes: 0 });
    throw err;
  }
  return { staged: { tmpPath, sha256: hash.digest('hex'), bytes }, records, contributors, contributions: attribution };
}

export type { Validated };
