// Export Adapter through the protocol client against the real job server: a real tiny job, then the
// `export` message with progress; a second name collision and a GGUF export without llama.cpp are refused.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXPORT_NAME, defaultExportName } from '../../client/src/jobs/exportName';
import { ProtocolClient, TrainerError } from '../../client/src/trainer/protocolClient';
import { SAMPLE_DATASET, needTrainer, sleep, startTrainerServer, tinyConfig } from './fixtures/trainerSupport';
import type { RunningServer } from './fixtures/trainerSupport';

describe('Export Adapter', () => {
  it('default names are ones the server accepts', () => {
    for (const [name, id] of [
      ['tiny test', '20260101-000000-abcd'],
      ['', 'j1'],
      ['../../etc/passwd', 'x'],
      ['ümlaut model!', '20260101-000000-abcd'],
      ['a'.repeat(200), 'b'.repeat(64)],
    ] as const) {
      const chosen = defaultExportName(name, id);
      assert.match(chosen, EXPORT_NAME, `${name} -> ${chosen}`);
    }
    assert.equal(defaultExportName('tiny test', '20260101-000000-abcd'), 'tiny-test-20260101-000000-abcd');
  });

  describe('against the real trainer server', () => {
    before(needTrainer);
    let server: RunningServer;
    let client: ProtocolClient;
    let jobId = '';

    before(async () => {
      server = await startTrainerServer();
      client = await ProtocolClient.connect({ url: server.url, token: server.token, log: () => undefined });
      const upload = await client.uploadDataset(SAMPLE_DATASET);
      const job = await client.submit({ configYaml: tinyConfig(4), dataset: { uploadId: upload.uploadId } });
      jobId = job.job_id;
      const deadline = Date.now() + 240_000;
      for (;;) {
        const state = (await client.listJobs()).find((j) => j.job_id === jobId)?.state;
        if (state === 'done') break;
        if (state === 'failed' || state === 'cancelled' || Date.now() > deadline) {
          throw new Error(`the job did not finish: ${state}\n${server.stderr().slice(-2000)}`);
        }
        await sleep(500);
      }
    });

    after(async () => {
      client?.close();
      await server?.stop();
    });

    it('merges with an Ollama Modelfile, reporting progress, into the server exports folder', async () => {
      const fractions: number[] = [];
      const done = await client.exportAdapter(
        { jobId, name: 'shipped', merge: true, ollama: true, gguf: false, system: null },
        (fraction) => fractions.push(fraction),
      );
      assert.equal(done.path, join(server.stateDir, 'exports', 'shipped'));
      assert.ok(done.merged);
      for (const file of ['config.json', 'tokenizer.json', 'generation_config.json', 'Modelfile', 'README.md']) {
        assert.ok(done.files.includes(file), file);
        assert.ok(existsSync(join(done.path, file)), file);
      }
      assert.ok(readFileSync(join(done.path, 'Modelfile'), 'utf8').includes('\nFROM .\n'));
      assert.ok(fractions.length >= 4 && fractions.at(-1) === 1);
      assert.deepEqual(
        fractions,
        [...fractions].sort((a, b) => a - b),
      );
    });

    it('refuses an existing name and GGUF on a server without llama.cpp', async () => {
      const options = { jobId, name: 'shipped', merge: false, ollama: false, gguf: false, system: null };
      await assert.rejects(
        client.exportAdapter(options, () => undefined),
        (err: unknown) => err instanceof TrainerError && err.code === 'export-exists',
      );
      await assert.rejects(
        client.exportAdapter({ ...options, name: 'gguf', gguf: true }, () => undefined),
        (err: unknown) =>
          err instanceof TrainerError && err.code === 'gguf-unavailable' && /--llama-cpp/.test(err.message),
      );
    });
  });
});
