// A small deterministic generator for the fuzz tier: the same seed gives the same inputs on every
// machine, so a failure names its seed and replays exactly (MF_FUZZ_SEED=N).

/** mulberry32: 32-bit state, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: MF_FUZZ_SEED when set, else a fixed default; printed so a failure can be replayed. */
export function fuzzSeed(defaultSeed: number): number {
  const raw = process.env['MF_FUZZ_SEED'];
  const seed = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : defaultSeed;
  process.stdout.write(`# fuzz seed ${seed} (replay with MF_FUZZ_SEED=${seed})\n`);
  return seed;
}
