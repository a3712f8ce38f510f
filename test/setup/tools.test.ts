// The tools installer (scripts/tools.sh) as `npm test` and `npm run demo` run it: inside an npm script,
// whose environment (npm_config_user_agent naming Node 20 among it) every child inherits, into an empty
// folder, as on a fresh machine. code-server's postinstall reads that variable; inherited, it once
// refused to install ("requires node v24 … you are on node v20").
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

const ROOT = resolve(__dirname, '..', '..');

describe('scripts/tools.sh into an empty folder, from inside an npm script', () => {
  const tools = mkdtempSync(join(tmpdir(), 'mf-tools-'));
  after(() => rmSync(tools, { recursive: true, force: true }));

  it('installs Node 24, code-server and vsce that run, saying what it does', { timeout: 15 * 60_000 }, () => {
    // `npm exec -c` runs the command the way npm runs a package script, with npm's environment.
    const run = spawnSync(
      'npm',
      ['exec', '--yes', '-c', 'env | grep -c "^npm_config_user_agent=" >&2; bash scripts/tools.sh'],
      {
        cwd: ROOT,
        env: { ...process.env, MODELFACTORY_TOOLS: tools },
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    assert.equal(run.status, 0, `tools.sh failed:\n${run.stderr.slice(-4000)}`);
    assert.match(run.stderr, /^1$/m, 'the installer ran with the outer npm environment inherited');
    assert.match(run.stderr, /tools: installing code-server [\d.]+/);
    assert.match(run.stderr, /done in \d+ s/, 'long steps say how long they took');

    const printed = new Map(
      run.stdout
        .split('\n')
        .map((line) => /^([A-Z0-9_]+)=(.+)$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!, m[2]!]),
    );
    const node24 = printed.get('NODE24')!;
    assert.ok(node24?.startsWith(tools), `NODE24 inside the empty folder: ${node24}`);
    assert.match(execFileSync(node24, ['--version'], { encoding: 'utf8' }), /^v24\./);
    // code-server writes a default config on any start, --version too: into the temp folder, not the home.
    const underNode24 = {
      ...process.env,
      PATH: `${join(node24, '..')}:${process.env['PATH']}`,
      XDG_CONFIG_HOME: join(tools, 'config'),
      XDG_DATA_HOME: join(tools, 'data'),
    };
    const codeServer = execFileSync(printed.get('CODE_SERVER')!, ['--version'], { encoding: 'utf8', env: underNode24 });
    assert.match(codeServer, /^4\.\d+\.\d+ /m);
    const vsce = execFileSync(printed.get('VSCE')!, ['--version'], { encoding: 'utf8', env: underNode24 });
    assert.match(vsce, /^\d+\.\d+\.\d+/);
    assert.equal(
      readFileSync(join(tools, 'installed.stamp'), 'utf8').trim().split(' ')[0],
      'node',
      'the stamp is written only after everything installed',
    );
  });
});
