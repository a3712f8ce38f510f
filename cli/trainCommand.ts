// `modelfactory train CONFIG [--server URL] [--follow] [--json]`: a fine-tune job from the command line
// (CI pipelines), on the extension's own protocol client. Pre-flight first (the config and its dataset
// must pass the same core checks the editor runs before a job), then upload, submit and, with --follow,
// the job's events as JSON lines. Without --server it uses (or starts) a local job server, as the
// extension does, in its own state folder.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { datasetOf, wantsRemoteCode } from '../client/src/jobs/datasetOf';
import type { JobEvent } from '../client/src/trainer/protocol';
import { ensureLocalServer } from '../client/src/trainer/localServer';
import { ProtocolClient, TrainerError, type SubmitRequest } from '../client/src/trainer/protocolClient';
import { venvPython } from '../client/src/trainer/python';
import { ModelFactoryService } from '../server/src/core/service';
import { DEFAULT_SETTINGS } from '../server/src/core/settings';
import type { Finding } from '../server/src/core/types';
import { nodeEnvironment } from '../server/src/nodeFs';
import { lintDatasetFileOnNode } from '../server/src/parallel/lintFile';

export const TRAIN_USAGE = `modelfactory train CONFIG [--server URL] [--follow] [--json] [--name NAME]
  Check a fine-tune config and its dataset as the editor does before a job (errors stop here), upload
  the dataset, submit the job and print its id.
      --server URL               the job server (wss://, or ws:// on loopback); the token comes from
                                 MODELFACTORY_TOKEN. Without it: the local job server of this machine
                                 (started when none runs; state in $MODELFACTORY_CLI_STATE_DIR, default
                                 ~/.cache/modelfactory/cli-server; its Python from $MODELFACTORY_PYTHON
                                 or trainer/.venv)
      --follow                   wait for the job to end, printing its events as JSON lines
                                 {"seq": N, "event": {...}} on stdout
      --json                     print the submitted job's summary as JSON (without --follow)
      --name NAME                the job's name (default: the config's file name)
      --allow-remote-code        submit a config with trust_remote_code: true
  Exit codes: 0 submitted (with --follow: the job is done), 1 pre-flight errors, a refusal, or (with
  --follow) the job failed or was cancelled, 2 usage error.`;

export class TrainUsageError extends Error {}

interface TrainArgs {
  config: string;
  server?: string;
  follow: boolean;
  json: boolean;
  name?: string;
  allowRemoteCode: boolean;
}

function parseTrainArgs(args: string[]): TrainArgs {
  let config: string | undefined;
  const parsed: Omit<TrainArgs, 'config'> = { follow: false, json: false, allowRemoteCode: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      if (v === undefined || v === '') throw new TrainUsageError(`${a.split('=')[0]} needs a value`);
      return v;
    };
    if (a === '--server' || a.startsWith('--server=')) parsed.server = value();
    else if (a === '--name' || a.startsWith('--name=')) parsed.name = value();
    else if (a === '--follow') parsed.follow = true;
    else if (a === '--json') parsed.json = true;
    else if (a === '--allow-remote-code') parsed.allowRemoteCode = true;
    else if (a.startsWith('-')) throw new TrainUsageError(`unknown option ${a}`);
    else if (config !== undefined) throw new TrainUsageError('train takes one config file');
    else config = a;
  }
  if (config === undefined) throw new TrainUsageError('train needs a fine-tune config file');
  return { config, ...parsed };
}

const say = (line: string) => process.stderr.write(`modelfactory: ${line}\n`);

/**
 * The editor's pre-flight without the editor: config errors, then the dataset's. Returns the dataset path, null
 * for a Hub dataset (its records are checked by the trainer's pre-flight on the server), undefined when refused.
 */
async function preflight(
  configPath: string,
  text: string,
  allowRemoteCode: boolean,
): Promise<string | null | undefined> {
  const shown = relative(process.cwd(), configPath) || configPath;
  const settings = DEFAULT_SETTINGS;
  const service = new ModelFactoryService(nodeEnvironment(), settings);
  const report = (file: string, findings: Finding[], limit = 20) => {
    for (const f of findings.slice(0, limit)) {
      say(`${file}:${f.range.start.line + 1}:${f.range.start.character + 1} ${f.severity} ${f.rule}: ${f.message}`);
    }
  };
  // Checking the config also notes the dataset it trains on (its tokenizer, template and limit).
  const configErrors = (await service.lintText(configPath, text, { as: 'config' })).findings.filter(
    (f) => f.severity === 'error',
  );
  if (configErrors.length > 0) {
    report(shown, configErrors);
    say(`${configErrors.length} error${configErrors.length > 1 ? 's' : ''} in ${shown} block this job`);
    return undefined;
  }
  if (wantsRemoteCode(text) && !allowRemoteCode) {
    say(
      `${shown} sets trust_remote_code (the model would run code shipped with its weights): pass --allow-remote-code`,
    );
    return undefined;
  }
  const dataset = datasetOf(text, configPath);
  if ('problem' in dataset) {
    say(dataset.problem);
    return undefined;
  }
  if ('hub' in dataset) {
    say(`the Hub dataset ${dataset.hub} is fetched and its records checked on the trainer, before training`);
    return null;
  }
  const datasetShown = relative(process.cwd(), dataset.path) || dataset.path;
  const size = await stat(dataset.path).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  );
  if (size === undefined) {
    say(`the dataset ${datasetShown} is not a readable file`);
    return undefined;
  }
  const errors: Finding[] = [];
  let warnings = 0;
  const collect = (f: Finding) => {
    if (f.severity === 'error') errors.push(f);
    else if (f.severity === 'warning') warnings++;
  };
  if (dataset.path.toLowerCase().endsWith('.jsonl')) {
    await lintDatasetFileOnNode(
      service,
      dataset.path,
      size,
      createReadStream(dataset.path, { highWaterMark: 1 << 20 }),
      collect,
    );
  } else {
    const result = await service.validateJsonDataset(dataset.path, await readFile(dataset.path, 'utf8'));
    result.findings.forEach(collect);
  }
  if (warnings > 0)
    say(`${datasetShown}: ${warnings} warning${warnings > 1 ? 's' : ''} (\`modelfactory lint\` lists them)`);
  if (errors.length > 0) {
    report(datasetShown, errors);
    say(`${errors.length} error${errors.length > 1 ? 's' : ''} in ${datasetShown} block this job`);
    return undefined;
  }
  return dataset.path;
}

/** The CLI's own local job server (like the extension's, in another state folder): its URL and token. */
async function localEndpoint(): Promise<{ url: string; token: string }> {
  const root = resolve(__dirname, '..', '..');
  const trainerDir = join(root, 'trainer');
  const python = process.env['MODELFACTORY_PYTHON'] || venvPython(join(trainerDir, '.venv'));
  if (!(await stat(python).catch(() => undefined))) {
    throw new TrainUsageError(
      `no trainer environment at ${python}: run \`npm run setup:trainer\`, set MODELFACTORY_PYTHON, or pass --server URL`,
    );
  }
  const stateDir = process.env['MODELFACTORY_CLI_STATE_DIR'] || join(homedir(), '.cache', 'modelfactory', 'cli-server');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const tokenFile = join(stateDir, 'token');
  let token = process.env['MODELFACTORY_TOKEN'] || (await readFile(tokenFile, 'utf8').catch(() => '')).trim();
  if (!token) {
    token = randomBytes(32).toString('base64url');
    await writeFile(tokenFile, token + '\n', { mode: 0o600 });
    await chmod(tokenFile, 0o600);
  }
  const server = await ensureLocalServer({
    python,
    trainerDir,
    stateDir,
    logFile: join(stateDir, 'server.log'),
    token,
    version: 'cli',
    log: say,
  });
  return { url: server.url, token };
}

async function endpoint(args: TrainArgs): Promise<{ url: string; token: string }> {
  if (args.server === undefined) return localEndpoint();
  const token = process.env['MODELFACTORY_TOKEN'];
  if (!token) throw new TrainUsageError('--server needs the endpoint token in MODELFACTORY_TOKEN');
  return { url: args.server, token };
}

/** Prints the job's events from seq 0 as JSON lines until `ended`; resolves with its final state. */
function follow(client: ProtocolClient, jobId: string): Promise<string> {
  return new Promise<string>((resolveEnd, reject) => {
    let finished = false;
    const onClose = client.onStateChange((state) => {
      if (state === 'closed' && !finished)
        reject(new TrainerError('closed', 'the connection to the job server closed'));
    });
    client
      .watch(jobId, 0, (seq: number, event: JobEvent) => {
        process.stdout.write(JSON.stringify({ seq, event }) + '\n');
        if (event.type === 'ended') {
          finished = true;
          onClose.dispose();
          resolveEnd(String(event.state));
        }
      })
      .catch(reject);
  });
}

export async function trainCommand(rawArgs: string[]): Promise<number> {
  const args = parseTrainArgs(rawArgs);
  const configPath = resolve(args.config);
  const text = await readFile(configPath, 'utf8').catch(() => {
    throw new TrainUsageError(`cannot read ${args.config}`);
  });
  const datasetPath = await preflight(configPath, text, args.allowRemoteCode);
  if (datasetPath === undefined) return 1;
  const { url, token } = await endpoint(args);
  let client: ProtocolClient;
  try {
    client = await ProtocolClient.connect({ url, token, clientName: 'modelfactory-cli' });
  } catch (err) {
    say(`cannot reach the job server: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  try {
    let dataset: SubmitRequest['dataset'] = { hub: true };
    if (datasetPath !== null) {
      say(`uploading ${relative(process.cwd(), datasetPath) || datasetPath}`);
      dataset = { uploadId: (await client.uploadDataset(datasetPath)).uploadId };
    }
    const name = args.name ?? basename(configPath).replace(/\.finetune\.ya?ml$|\.ya?ml$/i, '');
    const job = await client.submit({ configYaml: text, dataset, name });
    say(`submitted job ${job.job_id}`);
    if (!args.follow) {
      process.stdout.write(args.json ? JSON.stringify(job) + '\n' : job.job_id + '\n');
      return 0;
    }
    const state = await follow(client, job.job_id);
    say(`job ${job.job_id} ${state}`);
    return state === 'done' ? 0 : 1;
  } catch (err) {
    if (err instanceof TrainerError) {
      say(`${err.code}: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    client.close();
  }
}
