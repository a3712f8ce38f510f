#!/usr/bin/env node
// `modelfactory lint ...`: the CLI entry. The bundle is built by `npm run build`.
const { main } = require('../dist/cli/main.js');

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
