// The committed WebAssembly of the dataset core is what its .wat sources assemble to (drift test):
// after editing a .wat file, `npm run gen:wasm` writes the generated modules again.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { WASM_MODULES, generateWasmModule, generatedPath } from '../../scripts/gen-wasm';

describe('WebAssembly modules', () => {
  for (const { name, constant } of WASM_MODULES) {
    it(`${name}.generated.ts is assembled from ${name}.wat (run npm run gen:wasm)`, async () => {
      assert.equal(readFileSync(generatedPath(name), 'utf8'), await generateWasmModule(name, constant));
    });
  }
});
