// The protocol client against a hostile server written here with `ws`: invalid frames are dropped
// without touching job state, a gap is healed by watching again, an oversize frame closes with 1009,
// and a cut or corrupted adapter download leaves the target folder exactly as it was.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { JobTracker } from '../../client/src/trainer/jobTracker';
import { ProtocolClient } from '../../client/src/trainer/protocolClient';
import { randomToken, tempDir, until } from './fixtures/trainerSupport';

type Frame = Record<string, unknown> & { type: string; id: string };
type Handler = (frame: Frame, socket: WebSocket) => void;

interface HostileServer {
  url: string;
  token: string;
  received: Frame[];
  closeCodes: number[];
  upgrades: IncomingMessage[];
  close(): Promise<void>;
}

const WELCOME_LIMITS = {
  max_message_bytes: 1 << 20,
  max_upload_bytes: 1 << 30,
  upload_chunk_bytes: 65536,
  adapter_chunk_bytes: 65536,
};

const JOB = {
  job_id: 'job-1',
  state: 'queued',
  reason: null,
  created: 1_700_000_000,
  name: 'hostile',
  base_model: 'builtin:tiny-llama',
  method: 'lora',
  last_seq: 0,
};

const EVENTS = [
  { type: 'queued', time: 1, name: 'hostile', base_model: 'builtin:tiny-llama', method: 'lora' },
  { type: 'launched', time: 2, pid: 42 },
  {
    type: 'log',
    time: 3,
    step: 1,
    total_steps: 10,
    epoch: 0.1,
    loss: 2.5,
    learning_rate: 0.001,
  },
];

function eventFrame(seq: number): string {
  return JSON.stringify({ type: 'event', job_id: JOB.job_id, seq, event: EVENTS[seq] });
}

/** A ws server that checks the bearer token, answers hello, and hands every other frame to `handle`. */
async function startHostileServer(handle: Handler): Promise<HostileServer> {
  const token = randomToken();
  const received: Frame[] = [];
  const closeCodes: number[] = [];
  const upgrades: IncomingMessage[] = [];
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info: { req: IncomingMessage }) => {
      upgrades.push(info.req);
      return info.req.headers.authorization === `Bearer ${token}`;
    },
  });
  await new Promise<void>((done) => server.once('listening', done));
  server.on('connection', (socket) => {
    socket.on('close', (code) => closeCodes.push(code));
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      received.push(frame);
      if (frame.type === 'hello') {
        socket.send(
          JSON.stringify({
            type: 'welcome',
            id: frame.id,
            server: 'modelfactory-trainer',
            server_version: 'hostile',
            protocol: 1,
            limits: WELCOME_LIMITS,
          }),
        );
        return;
      }
      handle(frame, socket);
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `ws://127.0.0.1:${address.port}/`,
    token,
    received,
    closeCodes,
    upgrades,
    close: () =>
      new Promise<void>((done) => {
        for (const client of server.clients) client.terminate();
        server.close(() => done());
      }),
  };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The folder's files and their bytes, to compare before and after. */
function snapshot(folder: string): Record<string, string> {
  return Object.fromEntries(readdirSync(folder).map((name) => [name, sha256(readFileSync(join(folder, name)))]));
}

describe('protocol client against a hostile server', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function connect(
    handle: Handler,
    extra: { maxPayloadBytes?: number } = {},
  ): Promise<{ server: HostileServer; client: ProtocolClient; log: string[] }> {
    const server = await startHostileServer(handle);
    cleanups.push(() => server.close());
    const log: string[] = [];
    const client = await ProtocolClient.connect({
      url: server.url,
      token: server.token,
      log: (line) => log.push(line),
      backoff: { baseMs: 20, capMs: 100 },
      ...extra,
    });
    cleanups.push(() => client.close());
    return { server, client, log };
  }

  it('sends the token only in the Authorization header of the upgrade', async () => {
    const { server } = await connect(() => undefined);
    const [upgrade] = server.upgrades;
    assert.ok(upgrade !== undefined);
    assert.equal(upgrade.headers.authorization, `Bearer ${server.token}`);
    assert.ok(!upgrade.url!.includes(server.token));
    const otherHeaders = Object.entries(upgrade.headers).filter(([name]) => name !== 'authorization');
    assert.ok(!JSON.stringify(otherHeaders).includes(server.token));
    assert.ok(!JSON.stringify(server.received).includes(server.token), 'no frame carries the token');
  });

  it('drops invalid frames without touching job state; the connection stays usable', async () => {
    const hostile = [
      'not json at all',
      '[1, 2, 3]',
      JSON.stringify({ type: 'event', job_id: JOB.job_id, seq: -1, event: EVENTS[1] }),
      JSON.stringify({ type: 'event', job_id: JOB.job_id, seq: 1, event: { type: 'rm -rf', time: 1 } }),
      JSON.stringify({ type: 'event', job_id: JOB.job_id, seq: 1, event: { type: 'log', time: 1, step: 1 } }),
      JSON.stringify({ type: 'event', job_id: '../../etc', seq: 1, event: EVENTS[1] }),
      JSON.stringify({
        type: 'event',
        job_id: JOB.job_id,
        seq: 1,
        event: EVENTS[1],
        html: '<img src=x onerror=alert(1)>',
      }),
      JSON.stringify({ type: 'job_list', id: 'r999', jobs: [{ ...JOB, state: 'pwned' }] }),
    ];
    const { client, log } = await connect((frame, socket) => {
      if (frame.type === 'watch') {
        socket.send(JSON.stringify({ type: 'watching', id: frame.id, job: JOB, from_seq: 0 }));
        socket.send(eventFrame(0));
        for (const text of hostile) socket.send(text);
        socket.send(Buffer.from([1, 2, 3]), { binary: true });
      }
      if (frame.type === 'list_jobs') socket.send(JSON.stringify({ type: 'job_list', id: frame.id, jobs: [JOB] }));
    });
    const tracker = new JobTracker('remote-a');
    const applied: number[] = [];
    tracker.applySummary(
      await client.watch(JOB.job_id, 0, (seq, event) => {
        if (tracker.applyEvent(JOB.job_id, seq, event) === 'applied') applied.push(seq);
      }),
    );
    await until(() => log.filter((line) => line.startsWith('dropped')).length >= hostile.length, 5_000, 'drops');
    const jobs = await client.listJobs();
    assert.deepEqual(jobs, [JOB], 'requests still work after the hostile frames');
    assert.deepEqual(applied, [0]);
    const view = tracker.get(JOB.job_id)!;
    assert.equal(view.state, 'queued');
    assert.equal(view.lastSeq, 0);
    assert.equal(client.state, 'connected');
    assert.ok(log.some((line) => line.includes('binary')));
    assert.ok(log.some((line) => line.includes('not JSON')));
    assert.ok(!log.join('\n').includes('<img'), 'frame content is not echoed into the log');
  });

  it('heals a gap by watching again from the first missing seq', async () => {
    const { client, server } = await connect((frame, socket) => {
      if (frame.type !== 'watch') return;
      const from = frame.from_seq as number;
      socket.send(JSON.stringify({ type: 'watching', id: frame.id, job: JOB, from_seq: from }));
      // The first watch skips seq 1; the second one replays honestly.
      const seqs = from === 0 ? [0, 2] : [1, 2];
      for (const seq of seqs) socket.send(eventFrame(seq));
    });
    const delivered: number[] = [];
    await client.watch(JOB.job_id, 0, (seq) => delivered.push(seq));
    await until(() => delivered.length === 3, 5_000, 'the healed stream');
    assert.deepEqual(delivered, [0, 1, 2]);
    const watches = server.received.filter((frame) => frame.type === 'watch').map((frame) => frame.from_seq);
    assert.deepEqual(watches, [0, 1]);
  });

  it('an oversize frame closes the connection with 1009 and the client reconnects', async () => {
    let sentHuge = false;
    const { client, server, log } = await connect(
      (frame, socket) => {
        if (frame.type === 'list_jobs' && !sentHuge) {
          sentHuge = true;
          socket.send(JSON.stringify({ type: 'job_list', id: frame.id, jobs: [], pad: 'x'.repeat(2 << 20) }));
        }
      },
      { maxPayloadBytes: 1 << 20 },
    );
    await assert.rejects(client.listJobs(), /connection to the trainer was lost/);
    await until(() => server.closeCodes.includes(1009), 5_000, 'the server to see 1009');
    assert.ok(
      log.some((line) => /max payload/i.test(line)),
      log.join('\n'),
    );
    await until(() => client.state === 'connected', 5_000, 'the reconnect');
    assert.equal(server.received.filter((frame) => frame.type === 'hello').length, 2);
  });

  it('a flood of 20,000 invalid and duplicate frames is dropped with memory bounded, and the connection stays usable', async () => {
    const FLOOD = 20_000;
    const junk = JSON.stringify({
      type: 'event',
      job_id: JOB.job_id,
      seq: -1,
      event: EVENTS[1],
      pad: 'x'.repeat(2000),
    });
    let flooded = false;
    const { client, log } = await connect((frame, socket) => {
      if (frame.type === 'watch') {
        socket.send(JSON.stringify({ type: 'watching', id: frame.id, job: JOB, from_seq: 0 }));
        socket.send(eventFrame(0));
        for (let i = 0; i < FLOOD; i++) socket.send(i % 2 === 0 ? junk : eventFrame(0));
        flooded = true;
      }
      if (frame.type === 'list_jobs') socket.send(JSON.stringify({ type: 'job_list', id: frame.id, jobs: [JOB] }));
    });
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = heap();
    const applied: number[] = [];
    await client.watch(JOB.job_id, 0, (seq) => applied.push(seq));
    await until(() => flooded && log.filter((l) => l.startsWith('dropped')).length >= FLOOD, 30_000, 'the flood');
    // The test's own log holds one short line per drop; the client may hold nothing per frame.
    const logBytes = log.reduce((n, l) => n + l.length * 2, 0);
    const grown = heap() - before - logBytes;
    assert.ok(
      grown < 32 * 1024 * 1024,
      `heap grew ${(grown / 1e6).toFixed(1)} MB over a ${((FLOOD * 1000) / 1e6).toFixed(0)} MB flood`,
    );
    assert.ok(!log.join('\n').includes('xxxxxxxx'), 'frame content is not echoed into the log');
    assert.deepEqual(applied, [0], 'no duplicate and no invalid event applied');
    assert.deepEqual(await client.listJobs(), [JOB], 'requests still work after the flood');
  });

  it('refuses to upload a FIFO or a device at once, naming why', async () => {
    const { client } = await connect(() => undefined);
    const dir = tempDir('upload');
    const fifo = join(dir, 'data.jsonl');
    spawnSync('mkfifo', [fifo]);
    await assert.rejects(client.uploadDataset(fifo), /FIFO \(named pipe\), not a regular file/);
    await assert.rejects(client.uploadDataset('/dev/zero'), /not a regular file/);
  });

  describe('adapter download', () => {
    const good = Buffer.from('{"r": 16, "lora_alpha": 32}\n'.repeat(200));
    const weights = Buffer.alloc(300_000, 7);

    function serveAdapter(mutate: 'none' | 'cut' | 'flip' | 'evil-name') {
      return (frame: Frame, socket: WebSocket): void => {
        if (frame.type !== 'download_adapter') return;
        const files: [string, Buffer][] = [
          [mutate === 'evil-name' ? '../outside.json' : 'adapter_config.json', good],
          ['adapter_model.safetensors', weights],
        ];
        for (const [name, data] of files) {
          socket.send(
            JSON.stringify({
              type: 'adapter_file',
              id: frame.id,
              job_id: JOB.job_id,
              name,
              size: data.length,
              sha256: sha256(data),
            }),
          );
          let sent = data;
          if (name === 'adapter_model.safetensors' && mutate === 'flip') {
            sent = Buffer.from(data);
            sent[sent.length >> 1] ^= 0x01;
          }
          const until = name === 'adapter_model.safetensors' && mutate === 'cut' ? data.length >> 1 : data.length;
          for (let offset = 0; offset < until; offset += 65536) {
            const piece = sent.subarray(offset, Math.min(offset + 65536, until));
            socket.send(
              JSON.stringify({ type: 'adapter_chunk', id: frame.id, name, offset, data: piece.toString('base64') }),
            );
          }
          if (mutate === 'cut' && name === 'adapter_model.safetensors') {
            socket.terminate();
            return;
          }
        }
        const digests = Object.fromEntries(files.map(([name, data]) => [name, sha256(data)]));
        socket.send(
          JSON.stringify({
            type: 'adapter_end',
            id: frame.id,
            job_id: JOB.job_id,
            files: digests,
            sha256: sha256(weights),
          }),
        );
      };
    }

    function existingAdapter(): string {
      const folder = join(tempDir('download'), 'adapter');
      mkdirSync(folder);
      writeFileSync(join(folder, 'adapter_config.json'), 'the previous adapter config');
      writeFileSync(join(folder, 'adapter_model.safetensors'), 'the previous weights');
      return folder;
    }

    for (const [mutate, error] of [
      ['cut', /connection to the trainer was lost/],
      ['flip', /does not match its sha256/],
      ['evil-name', /named an adapter file/],
    ] as const) {
      it(`a download that is ${mutate === 'cut' ? 'cut at 50%' : mutate === 'flip' ? 'one flipped byte' : 'named ../'} leaves the target unchanged`, async () => {
        const { client } = await connect(serveAdapter(mutate));
        const folder = existingAdapter();
        const before = snapshot(folder);
        await assert.rejects(client.downloadAdapter(JOB.job_id, folder), error);
        assert.deepEqual(snapshot(folder), before);
        assert.deepEqual(readdirSync(join(folder, '..')), ['adapter'], 'nothing written beside the folder');
      });
    }

    it('a complete download replaces the previous adapter with verified files', async () => {
      const { client } = await connect(serveAdapter('none'));
      const folder = existingAdapter();
      const files = await client.downloadAdapter(JOB.job_id, folder);
      assert.deepEqual(files.map((file) => file.name).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
      assert.deepEqual(readFileSync(join(folder, 'adapter_model.safetensors')), weights);
      assert.deepEqual(readFileSync(join(folder, 'adapter_config.json')), good);
      assert.deepEqual(readdirSync(folder).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
    });
  });
});
