// `modelfactory hub ...`: run a Datanet hub, make tokens, and talk to a hub as a contributor,
// curator or owner. Client commands read the token from MODELFACTORY_HUB_TOKEN.
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { openDb } from './db';
import { buildHub } from './server';
import { createToken, ROLES } from './tokens';

export class HubUsageError extends Error {}

export const HUB_USAGE = `modelfactory hub COMMAND ...
  serve [--data DIR] [--database URL] [--host H] [--port P] [--daily-mb N] [--daily-files N] [--max-upload-mb N]
        Run a hub. Storage: embedded PostgreSQL (PGlite) in DIR/db (default ./hub-data), or a PostgreSQL
        server with --database postgres://...; contribution files in DIR/files (content-addressed).
        Defaults: 127.0.0.1:8787, 10 MB and 20 files per contributor per day across all Datanets.
  token create (--data DIR | --database URL | --hub URL) --name NAME --role ${ROLES.join('|')} [--datanet NAME ...]
        A new token (printed on the last line; only its hash is stored). --datanet limits it to Datanets.
        With --hub, an owner's token (MODELFACTORY_HUB_TOKEN) makes it on a running hub.
  datanet create FILE --hub URL                 create a Datanet from datanet.yaml, or add a manifest version
  submit FILE --datanet NAME --hub URL [--supersedes ID] [--json]
        Upload a contribution; prints the receipt. Exit 0 accepted or pending, 1 rejected.
  leaderboard NAME --hub URL [--json]           contributors ranked by acceptance (Wilson lower bound + activity)
  publish NAME --hub URL [--json]               make the accepted records an immutable, content-addressed version
  review list NAME --hub URL [--json]           contributions pending review
  review approve ID --hub URL [--reason TEXT]
  review reject ID --reason TEXT --hub URL
  quota NAME --hub URL [--json]                 today's use against the daily caps
  pull NAME@VERSION --hub URL --out FILE        download a version, verified by its sha256
  Client commands read the token from MODELFACTORY_HUB_TOKEN and the hub from --hub or MODELFACTORY_HUB_URL.
  Exit codes: 0 done, 1 rejected, 2 usage error, 3 the hub refused or could not be reached.`;

interface Parsed {
  positional: string[];
  flags: Map<string, string[]>;
  bools: Set<string>;
}

const BOOLEAN_FLAGS = new Set(['--json']);

/** Parses `args` against the `allowed` options; more than `positionals` plain arguments is a usage error. */
function parseArgs(args: string[], allowed: string[], positionals = 0): Parsed {
  const out: Parsed = { positional: [], flags: new Map(), bools: new Set() };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) {
      if (out.positional.length >= positionals) throw new HubUsageError(`unexpected argument '${a}'`);
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (!allowed.includes(name)) throw new HubUsageError(`unknown option ${name}`);
    if (BOOLEAN_FLAGS.has(name)) {
      out.bools.add(name);
      continue;
    }
    const value = eq > 0 ? a.slice(eq + 1) : args[++i];
    if (value === undefined) throw new HubUsageError(`${name} needs a value`);
    out.flags.set(name, [...(out.flags.get(name) ?? []), value]);
  }
  return out;
}

const one = (p: Parsed, name: string): string | undefined => p.flags.get(name)?.at(-1);

function positiveNumber(p: Parsed, name: string): number | undefined {
  const v = one(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new HubUsageError(`${name} takes a positive number, not '${v}'`);
  return n;
}

class HubRefused extends Error {}

/** A client of one hub: JSON in and out, the token from the environment. */
class HubClient {
  constructor(
    readonly base: string,
    private readonly token: string,
  ) {}

  static from(p: Parsed): HubClient {
    const url = one(p, '--hub') ?? process.env['MODELFACTORY_HUB_URL'];
    if (!url) throw new HubUsageError('--hub URL is needed (or set MODELFACTORY_HUB_URL)');
    if (!/^https?:\/\//.test(url)) throw new HubUsageError(`--hub takes an http:// or https:// address, not '${url}'`);
    const token = process.env['MODELFACTORY_HUB_TOKEN'];
    if (!token)
      throw new HubUsageError(
        'set MODELFACTORY_HUB_TOKEN to your hub token (`modelfactory hub token create` makes one)',
      );
    return new HubClient(url.replace(/\/+$/, ''), token);
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    init: { raw?: Readable; size?: number } = {},
  ): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    let payload: RequestInit['body'];
    if (init.raw) {
      headers['content-type'] = 'application/octet-stream';
      if (init.size !== undefined) headers['content-length'] = String(init.size);
      payload = Readable.toWeb(init.raw) as unknown as RequestInit['body'];
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: payload,
        ...(init.raw ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      throw new HubRefused(`cannot reach the hub at ${this.base}: ${(err as Error).cause ?? (err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = json as { error?: string; findings?: { line: number; message: string }[] } | undefined;
      const detail = e?.findings?.map((f) => `\n  line ${f.line}: ${f.message}`).join('') ?? '';
      throw new HubRefused(`the hub refused (${res.status}): ${e?.error ?? text.slice(0, 500)}${detail}`);
    }
    return json as T;
  }
}

interface Receipt {
  id: string;
  sha256: string;
  verdict: string;
  records: { accepted: number; rejected: number };
  findings: { line: number; rule: string; severity: string; message: string }[];
  rules_version: string;
  review_reason?: string | null;
}

function printReceipt(r: Receipt, file: string): void {
  for (const f of r.findings) process.stdout.write(`${file}:${f.line}: ${f.severity} ${f.rule}: ${f.message}\n`);
  process.stdout.write(
    `${r.verdict}: ${r.records.accepted} record(s) accepted, ${r.records.rejected} rejected (contribution ${r.id}, sha256 ${r.sha256.slice(0, 12)}, rules ${r.rules_version})\n`,
  );
}

async function serve(args: string[]): Promise<number> {
  const p = parseArgs(args, [
    '--data',
    '--database',
    '--host',
    '--port',
    '--daily-mb',
    '--daily-files',
    '--max-upload-mb',
  ]);
  const dataDir = resolve(one(p, '--data') ?? 'hub-data');
  const database = one(p, '--database');
  const host = one(p, '--host') ?? '127.0.0.1';
  const portText = one(p, '--port') ?? '8787';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new HubUsageError(`--port takes 0-65535, not '${portText}'`);
  const dailyMb = positiveNumber(p, '--daily-mb');
  const dailyFiles = positiveNumber(p, '--daily-files');
  const maxUploadMb = positiveNumber(p, '--max-upload-mb');
  await mkdir(dataDir, { recursive: true });
  const release = database ? undefined : await holdDataDir(dataDir);
  const db = await openDb({ dataDir, ...(database ? { database } : {}) });
  const app = await buildHub({
    db,
    dataDir,
    ...(dailyMb ? { dailyBytes: dailyMb * 1e6 } : {}),
    ...(dailyFiles ? { dailyFiles: Math.floor(dailyFiles) } : {}),
    ...(maxUploadMb ? { maxUploadBytes: maxUploadMb * 1e6 } : {}),
  });
  const address = await app.listen({ host, port });
  process.stdout.write(
    `modelfactory hub listening on ${address} (storage: ${database ? 'PostgreSQL' : `PGlite in ${join(dataDir, 'db')}`}; files in ${join(dataDir, 'files')})\n`,
  );
  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await app.close();
  await db.close();
  await release?.();
  return 0;
}

/** PGlite is one process's database: a pid file keeps a second process (a hub, `token create`) off it. */
async function holdDataDir(dataDir: string): Promise<() => Promise<void>> {
  const pidFile = join(dataDir, 'hub.pid');
  const text = await readFile(pidFile, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (pid > 0 && pid !== process.pid) {
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (alive) {
      throw new HubRefused(
        `${dataDir} is in use by process ${pid} (a running hub): stop it first, or use PostgreSQL (--database) to share storage between processes`,
      );
    }
  }
  await writeFile(pidFile, String(process.pid));
  return () => rm(pidFile, { force: true });
}

async function tokenCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'create') throw new HubUsageError(`hub token takes 'create', not '${sub ?? ''}'`);
  const p = parseArgs(rest, ['--data', '--database', '--hub', '--name', '--role', '--datanet']);
  const name = one(p, '--name');
  const role = one(p, '--role');
  if (!name || !role) throw new HubUsageError('hub token create needs --name NAME and --role ROLE');
  if (!(ROLES as readonly string[]).includes(role))
    throw new HubUsageError(`--role must be one of ${ROLES.join(', ')}, not '${role}'`);
  if (one(p, '--hub')) {
    // An owner makes tokens on a running hub.
    const datanets = p.flags.get('--datanet');
    const r = await HubClient.from(p).request<{ token: string }>('POST', '/v1/tokens', {
      name,
      role,
      ...(datanets ? { datanets } : {}),
    });
    process.stderr.write(`created a ${role} token for ${name}; it is shown once, only its hash is stored:\n`);
    process.stdout.write(r.token + '\n');
    return 0;
  }
  const database = one(p, '--database');
  const dataArg = one(p, '--data');
  if (!database && !dataArg)
    throw new HubUsageError("hub token create needs --data DIR or --database URL (the hub's storage)");
  const dataDir = resolve(dataArg ?? 'hub-data');
  if (!database) await mkdir(dataDir, { recursive: true });
  const release = database ? undefined : await holdDataDir(dataDir);
  try {
    const db = await openDb({ dataDir, ...(database ? { database } : {}) });
    try {
      const token = await createToken(db, name, role, p.flags.get('--datanet'));
      process.stderr.write(`created a ${role} token for ${name}; it is shown once, only its hash is stored:\n`);
      process.stdout.write(token + '\n');
    } finally {
      await db.close();
    }
  } finally {
    await release?.();
  }
  return 0;
}

async function datanetCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'create') throw new HubUsageError(`hub datanet takes 'create', not '${sub ?? ''}'`);
  const p = parseArgs(rest, ['--hub', '--json'], 1);
  const file = p.positional[0];
  if (!file) throw new HubUsageError('hub datanet create needs the datanet.yaml file');
  const manifest = await readBounded(file, 256 * 1024);
  let recordSchema: string | undefined;
  const data = parseYaml(manifest) as { record_schema?: unknown } | null;
  if (data && typeof data.record_schema === 'string') {
    recordSchema = await readBounded(resolve(dirname(resolve(file)), data.record_schema), 1024 * 1024);
  }
  const client = HubClient.from(p);
  const r = await client.request<{ name: string; version: number; created: boolean }>('POST', '/v1/datanets', {
    manifest,
    ...(recordSchema !== undefined ? { record_schema: recordSchema } : {}),
  });
  if (p.bools.has('--json')) process.stdout.write(JSON.stringify(r) + '\n');
  else
    process.stdout.write(`${r.created ? 'created' : 'updated'} Datanet '${r.name}' (manifest version ${r.version})\n`);
  return 0;
}

async function readBounded(path: string, max: number): Promise<string> {
  const st = await stat(path).catch(() => undefined);
  if (!st || !st.isFile()) throw new HubUsageError(`no such file: ${path}`);
  if (st.size > max) throw new HubUsageError(`${path} is larger than ${max} bytes`);
  return readFile(path, 'utf8');
}

async function submit(args: string[]): Promise<number> {
  const p = parseArgs(args, ['--hub', '--datanet', '--supersedes', '--json'], 1);
  const file = p.positional[0];
  const datanet = one(p, '--datanet');
  if (!file || !datanet) throw new HubUsageError('hub submit needs FILE and --datanet NAME');
  const st = await stat(file).catch(() => undefined);
  if (!st || !st.isFile()) throw new HubUsageError(`no such file: ${file}`);
  const client = HubClient.from(p);
  const q = new URLSearchParams({ file_name: basename(file) });
  const supersedes = one(p, '--supersedes');
  if (supersedes) q.set('supersedes', supersedes);
  const receipt = await client.request<Receipt>(
    'POST',
    `/v1/datanets/${encodeURIComponent(datanet)}/contributions?${q}`,
    undefined,
    {
      raw: createReadStream(file),
      size: st.size,
    },
  );
  if (p.bools.has('--json')) process.stdout.write(JSON.stringify(receipt, null, 2) + '\n');
  else printReceipt(receipt, file);
  return receipt.verdict === 'rejected' ? 1 : 0;
}

async function leaderboard(args: string[]): Promise<number> {
  const p = parseArgs(args, ['--hub', '--json'], 1);
  const name = p.positional[0];
  if (!name) throw new HubUsageError('hub leaderboard needs the Datanet name');
  const rows = await HubClient.from(p).request<
    { contributor: string; accepted: number; rejected: number; rate: number; score: number; rank: number }[]
  >('GET', `/v1/datanets/${encodeURIComponent(name)}/leaderboard`);
  if (p.bools.has('--json')) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return 0;
  }
  process.stdout.write('rank  contributor                     accepted  rejected  rate    score\n');
  for (const r of rows) {
    process.stdout.write(
      `${String(r.rank).padEnd(6)}${r.contributor.padEnd(32)}${String(r.accepted).padEnd(10)}${String(r.rejected).padEnd(10)}${(r.rate * 100).toFixed(1).padStart(5)}%  ${r.score.toFixed(4)}\n`,
    );
  }
  return 0;
}

async function publish(args: string[]): Promise<number> {
  const p = parseArgs(args, ['--hub', '--json'], 1);
  const name = p.positional[0];
  if (!name) throw new HubUsageError('hub publish needs the Datanet name');
  const v = await HubClient.from(p).request<{
    version: number;
    sha256: string;
    records: number;
    contributors: Record<string, number>;
  }>('POST', `/v1/datanets/${encodeURIComponent(name)}/versions`, {});
  const out = { version: v.version, sha256: v.sha256, records: v.records, contributors: v.contributors };
  if (p.bools.has('--json')) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  else process.stdout.write(`${name}@${v.version}: ${v.records} record(s), sha256 ${v.sha256}\n`);
  return 0;
}

async function review(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const p = parseArgs(rest, ['--hub', '--json', '--reason'], 1);
  const target = p.positional[0];
  if (!target)
    throw new HubUsageError(
      `hub review ${sub ?? ''} needs ${sub === 'list' ? 'the Datanet name' : 'the contribution id'}`,
    );
  const client = HubClient.from(p);
  if (sub === 'list') {
    const rows = await client.request<
      { id: string; contributor: string; file_name: string; records: { accepted: number } }[]
    >('GET', `/v1/datanets/${encodeURIComponent(target)}/contributions?status=pending`);
    if (p.bools.has('--json')) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    else
      for (const r of rows)
        process.stdout.write(`${r.id}  ${r.contributor}  ${r.file_name}  ${r.records.accepted} record(s)\n`);
    return 0;
  }
  if (sub !== 'approve' && sub !== 'reject')
    throw new HubUsageError(`hub review takes list, approve or reject, not '${sub ?? ''}'`);
  const reason = one(p, '--reason');
  if (sub === 'reject' && !reason) throw new HubUsageError('hub review reject needs --reason TEXT');
  const r = await client.request<Receipt>('POST', `/v1/contributions/${encodeURIComponent(target)}/review`, {
    decision: sub,
    ...(reason ? { reason } : {}),
  });
  if (p.bools.has('--json')) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  else process.stdout.write(`${r.id}: ${r.verdict}${r.review_reason ? ` (${r.review_reason})` : ''}\n`);
  return 0;
}

async function quota(args: string[]): Promise<number> {
  const p = parseArgs(args, ['--hub', '--json'], 1);
  const name = p.positional[0];
  if (!name) throw new HubUsageError('hub quota needs the Datanet name');
  const q = await HubClient.from(p).request<{
    day: string;
    datanet: { bytes: number; files: number; max_bytes: number | null; max_files: number | null };
    all: { bytes: number; files: number; max_bytes: number; max_files: number };
  }>('GET', `/v1/datanets/${encodeURIComponent(name)}/quota`);
  if (p.bools.has('--json')) process.stdout.write(JSON.stringify(q, null, 2) + '\n');
  else {
    const cap = (n: number | null) => (n === null ? 'no cap' : String(n));
    process.stdout.write(
      `${q.day} in ${name}: ${q.datanet.files} file(s) of ${cap(q.datanet.max_files)}, ${q.datanet.bytes} bytes of ${cap(q.datanet.max_bytes)}\n` +
        `${q.day} across all Datanets: ${q.all.files} file(s) of ${q.all.max_files}, ${q.all.bytes} bytes of ${q.all.max_bytes}\n`,
    );
  }
  return 0;
}

async function pull(args: string[]): Promise<number> {
  const p = parseArgs(args, ['--hub', '--out'], 1);
  const ref = p.positional[0];
  const out = one(p, '--out');
  const m = ref ? /^([a-z0-9][a-z0-9._-]*)@([1-9][0-9]*)$/.exec(ref) : null;
  if (!m || !out) throw new HubUsageError('hub pull needs NAME@VERSION and --out FILE');
  const client = HubClient.from(p);
  const meta = await client.request<{ sha256: string }>('GET', `/v1/datanets/${m[1]}/versions/${m[2]}`);
  const res = await fetch(`${client.base}/v1/datanets/${m[1]}/versions/${m[2]}/data`, {
    headers: { authorization: `Bearer ${process.env['MODELFACTORY_HUB_TOKEN']}` },
  });
  if (!res.ok) throw new HubRefused(`the hub refused (${res.status}): ${await res.text()}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  const { createHash } = await import('node:crypto');
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== meta.sha256) throw new HubRefused(`the download's sha256 ${sha} is not the version's ${meta.sha256}`);
  await writeFile(out, bytes);
  process.stdout.write(`${ref}: ${bytes.length} bytes, sha256 ${sha} -> ${out}\n`);
  return 0;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  serve,
  token: tokenCommand,
  datanet: datanetCommand,
  submit,
  leaderboard,
  publish,
  review,
  quota,
  pull,
};

/** Runs `modelfactory hub ARGS`; usage errors throw HubUsageError, a refusing hub exits 3. */
export async function hubCommand(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) throw new HubUsageError(name ? `unknown hub command '${name}'` : 'hub needs a command');
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof HubRefused) {
      process.stderr.write(`modelfactory hub: ${err.message}\n`);
      return 3;
    }
    throw err;
  }
}
