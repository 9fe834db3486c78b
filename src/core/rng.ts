import { sha256 } from "../core/json.js";

/** A seeded pseudo-random source. Same seed, same sequence, on every machine. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
  /** Standard normal (Box–Muller). */
  normal(): number;
}

/**
 * mulberry32: tiny, fast and good enough for fault injection and latency;
 * not for anything secret.
 */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError("pick from an empty list");
      return items[Math.floor(next() * items.length)] as T;
    },
    normal: () => {
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
}

/**
 * A generator for one named decision: the seed and the labels are hashed,
 * so the nth request's fate does not depend on how many random numbers
 * earlier requests happened to draw, and concurrent requests stay
 * reproducible as long as their numbering is.
 */
export function rngFor(seed: number, ...labels: (string | number)[]): Rng {
  return createRng(sha256([seed, ...labels].join("\u0000")).readUInt32BE(0));
}
