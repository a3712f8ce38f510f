// Writes package.json's contributes.configuration from server/src/settingsSchema.ts, the settings'
// single source of truth. `npm run sync:settings`; test/core/settings.test.ts fails on drift.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configurationContribution, restrictedConfigurations } from '../server/src/settingsSchema';

const path = join(__dirname, '..', 'package.json');
const pkg = JSON.parse(readFileSync(path, 'utf8')) as { contributes: Record<string, unknown>; capabilities?: unknown };
pkg.contributes['configuration'] = configurationContribution();
pkg.capabilities = {
  untrustedWorkspaces: {
    supported: 'limited',
    description:
      'In an untrusted workspace ModelFactory starts no process at all: no language server, no trainer, no jobs. Trust the workspace to validate files and train.',
    restrictedConfigurations: restrictedConfigurations(),
  },
  virtualWorkspaces: false,
};
writeFileSync(path, JSON.stringify(pkg, null, 2) + '\n');
