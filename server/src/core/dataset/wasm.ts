// The dataset core's WebAssembly modules (nearSketch.wat, valueHash.wat) are instantiated from the
// base64 bytes their generated files hold: synchronously, with no file to find at run time, the same in
// the extension bundle, the CLI, the hub and worker threads.
//
// Each imports its memory. The shared instances of the two (one each per thread) share one, so that
// the sketch reads a record's content where the hash left it decoded, without encoding it again. The
// map of that memory:
//
//   0 - 20480       the sketch's bins, signature, band keys, probes and word lists (nearSketch.wat)
//   20480 - 61440   the hash's result, container frames and open objects' keys (valueHash.wat)
//   61440 - 63488   where the hash found the line's first 256 string values (start, decoded length)
//   63488 - 65536   which of those values the sketch reads (indices, written by dedupNear.ts)
//   65536 -         the text: the line's UTF-8 for the hash, then the sketch's, written over it (a
//                   plain record's content values moved down to 65536, or its content encoded there)
//
// An instance made for one long text has a memory of its own, with the same map.

const compiled = new Map<string, WebAssembly.Module>();

/** Where the text starts in either module's memory (the map above). */
export const WASM_TEXT_OFFSET = 65536;

/** A new memory of `bytes` at least (the map above needs 2 pages). */
export function newMemory(bytes = 2 * 65536): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: Math.max(2, Math.ceil(bytes / 65536)) });
}

let shared: WebAssembly.Memory | undefined;

/** The memory the shared instances of the hash and the sketch share (one per thread). */
export function sharedMemory(): WebAssembly.Memory {
  return (shared ??= newMemory());
}

/** The exports of a new instance of the module whose bytes are `base64` (compiled once per module), on `memory`. */
export function instantiate(base64: string, memory: WebAssembly.Memory): Record<string, unknown> {
  let module = compiled.get(base64);
  if (!module) {
    module = new WebAssembly.Module(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
    compiled.set(base64, module);
  }
  return new WebAssembly.Instance(module, { env: { memory } }).exports;
}

/**
 * Grows `memory` to at least `bytes`; true when it grew (views of its old buffer are then detached).
 * `have`: its size now, as the caller's view of the whole buffer knows it (reading `memory.buffer` is a
 * call into the engine, some 14 ns: twice a record, per 10 MB, a third of a millisecond). A view that
 * the other module's growing detached has length 0: the caller renews its views first (`detached`).
 */
export function ensureMemory(memory: WebAssembly.Memory, have: number, bytes: number): boolean {
  if (bytes <= have) return false;
  memory.grow(Math.ceil((bytes - have) / 65536));
  return true;
}

/**
 * Whether `view` (of a memory's buffer) was detached by the memory's growing, perhaps by another
 * instance. A typed array, not a DataView: a detached DataView throws where a typed array reads 0.
 */
export function detached(view: Uint8Array): boolean {
  return view.byteLength === 0;
}
