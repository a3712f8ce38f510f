// Remote endpoints are the same server behind wss://: the protocol client against the real job server
// serving TLS with a certificate made here, trusted through NODE_EXTRA_CA_CERTS as a user would trust a
// private CA. The certificate is verified: untrusted, the connection is refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { needTrainer, randomToken, startTrainerServer, tempDir, type RunningServer } from './fixtures/trainerSupport';

const PROBE = join(__dirname, 'fixtures', 'wssProbe.ts');

function probe(
  url: string,
  token: string,
  caFile?: string,
): { ok: boolean; error?: string; jobs?: number; serverVersion?: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, PROBE_TOKEN: token };
  delete env['NODE_EXTRA_CA_CERTS'];
  if (caFile) env['NODE_EXTRA_CA_CERTS'] = caFile;
  const out = execFileSync(process.execPath, ['--import', 'tsx', PROBE, url], {
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as { ok: boolean; error?: string };
}

describe('the protocol client over wss://', () => {
  before(needTrainer);
  let server: RunningServer;
  let cert: string;
  before(async () => {
    const dir = tempDir('tls');
    cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    server = await startTrainerServer(['--tls-cert', cert, '--tls-key', key]);
  });
  after(async () => {
    await server?.stop();
  });

  it('connects with a trusted certificate and the token, and talks the protocol', () => {
    const result = probe(`wss://localhost:${server.port}/`, server.token, cert);
    assert.equal(result.ok, true, result.error);
    assert.equal(result.jobs, 0);
    assert.equal(typeof result.serverVersion, 'string');
  });

  it('refuses a certificate nobody trusts, and a wrong token, without echoing the token', () => {
    const untrusted = probe(`wss://localhost:${server.port}/`, server.token);
    assert.equal(untrusted.ok, false);
    assert.match(untrusted.error!, /certificate/i);
    const wrong = randomToken();
    const refused = probe(`wss://localhost:${server.port}/`, wrong, cert);
    assert.equal(refused.ok, false);
    assert.match(refused.error!, /401/);
    assert.ok(!refused.error!.includes(wrong) && !refused.error!.includes(server.token));
  });
});
