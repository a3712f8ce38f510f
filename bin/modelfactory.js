#!/usr/bin/env node
// `modelfactory lint ...`: the CLI entry. The bundle is built by `npm run build`.
require('../dist/cli/main.js');
