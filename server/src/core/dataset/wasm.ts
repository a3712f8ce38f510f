// The dataset core's WebAssembly modules (nearSketch.wat, valueHash.wat) are instantiated from the
// base64 bytes their generated files hold: synchronously, with no file to find at run time, the same in
// the extension bundle, the CLI, the hub and worker threads.

const compiled = new Map<string, WebAssembly.Module>();

/** The exports of a new instance of the module whose bytes are `base64` (compiled once per module). */
export function instantiate(base64: string): Record<string, unknown> {
  let module = compiled.get(base64);
  if (!module) {
    module = new WebAssembly.Module(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
    compiled.set(base64, module);
  }
  return new WebAssembly.Instance(module, {}).exports;
}

/**
 * Grows `memory` to at least `bytes`; true when it grew (views of its old buffer are then detached).
 * `have`: its size now, as the caller's view of the whole buffer knows it (reading `memory.buffer` is a
 * call into the engine, some 14 ns: twice a record, per 10 MB, a third of a millisecond).
 */
export function ensureMemory(memory: WebAssembly.Memory, have: number, bytes: number): boolean {
  if (bytes <= have) return false;
  memory.grow(Math.ceil((bytes - have) / 65536));
  return true;
}
