// The Jobs view's item menus, read from package.json as VS Code reads them: an evaluation job (contextValue
// `job-done-eval`) has results to open and no adapter, so none of the adapter actions may show on it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

interface MenuEntry {
  command: string;
  when?: string;
}

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  contributes: { menus: Record<string, MenuEntry[]> };
};

/**
 * Evaluates the `when` clauses this menu uses (`&&` of `view == X`, `viewItem == X` and `viewItem =~ /re/`);
 * anything else is an error, so that a clause this evaluator does not understand cannot pass unread.
 */
function shows(when: string, viewItem: string): boolean {
  return when.split('&&').every((raw) => {
    const term = raw.trim();
    let m = /^view == (\S+)$/.exec(term);
    if (m) return m[1] === 'modelfactory.jobs';
    m = /^viewItem == (\S+)$/.exec(term);
    if (m) return m[1] === viewItem;
    m = /^viewItem =~ \/(.+)\/$/.exec(term);
    if (m) return new RegExp(m[1] as string).test(viewItem);
    throw new Error(`a when clause this test does not read: ${term}`);
  });
}

function commandsOn(viewItem: string): string[] {
  return manifest.contributes.menus['view/item/context']!.filter(
    (entry) => entry.when?.includes('view == modelfactory.jobs') && shows(entry.when, viewItem),
  )
    .map((entry) => entry.command)
    .sort();
}

const ADAPTER_ACTIONS = [
  'modelfactory.downloadAdapter',
  'modelfactory.evaluateAdapter',
  'modelfactory.exportAdapter',
  'modelfactory.openPlayground',
];

describe('the Jobs view menus', () => {
  it('offer an evaluation job its results and dashboard, and no adapter action', () => {
    assert.deepEqual(commandsOn('job-done-eval'), ['modelfactory.openDashboard', 'modelfactory.openEvaluation']);
  });

  it('offer a done training job every adapter action, and no evaluation results', () => {
    const done = commandsOn('job-done');
    for (const command of ADAPTER_ACTIONS) assert.ok(done.includes(command), `${command} on a done job`);
    assert.ok(!done.includes('modelfactory.openEvaluation'));
  });

  it('offer a running job cancel and its dashboard only', () => {
    assert.deepEqual(commandsOn('job-running'), ['modelfactory.cancelJob', 'modelfactory.openDashboard']);
  });
});
