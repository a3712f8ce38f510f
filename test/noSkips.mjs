// A node:test reporter that fails the run when any test was skipped or left as a todo: a tier that
// skips because a tool is missing hides a missing install step. Skips asked for with
// MODELFACTORY_SKIP_BROWSER=1 are allowed, and the run says so loudly at its end.
// Used beside the usual reporter: --test-reporter=tap --test-reporter=./test/noSkips.mjs
const onRequest = process.env.MODELFACTORY_SKIP_BROWSER === '1';

export default async function* noSkips(source) {
  const skipped = [];
  let onRequestCount = 0;
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { skip, todo, name, file } = event.data;
    if (onRequest && typeof skip === 'string' && skip.startsWith('MODELFACTORY_SKIP_BROWSER')) onRequestCount++;
    else if (skip !== undefined && skip !== false)
      skipped.push(`${file ?? ''}: ${name} (${skip === true ? 'skipped' : skip})`);
    else if (todo !== undefined && todo !== false) skipped.push(`${file ?? ''}: ${name} (todo)`);
  }
  if (onRequestCount > 0) {
    yield `\n*** MODELFACTORY_SKIP_BROWSER=1: ${onRequestCount} browser test(s) skipped on request; this run proves less than CI's ***\n`;
  }
  if (skipped.length === 0) return;
  yield `\nno test may skip, and these did (npm test installs every tool first; a missing one must fail):\n`;
  for (const line of skipped) yield `  ${line}\n`;
  process.exitCode = 1;
}
