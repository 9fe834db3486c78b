import { createRng } from "../core/rng.js";

export interface ClusteredData {
  dimension: number;
  /** n rows, row-major. */
  vectors: Float32Array;
  /** Held-out query rows drawn from the same mixture. */
  queries: Float32Array;
}

export interface ClusteredOptions {
  n: number;
  queries: number;
  dimension: number;
  clusters: number;
  /** Spread of points around their cluster centre, relative to the centres' spread; default 0.35. */
  spread?: number;
  seed: number;
}

/**
 * A Gaussian mixture: clustered like real embeddings (so routing by
 * centroid means something) yet generated from a seed in milliseconds.
 * Cluster sizes vary (Zipf-like weights) so balanced partitioning is tested.
 */
export function clusteredData(options: ClusteredOptions): ClusteredData {
  const { n, dimension: dim, clusters } = options;
  const spread = options.spread ?? 0.35;
  const rng = createRng(options.seed);
  const centres = new Float32Array(clusters * dim).map(() => rng.normal());
  const weights = Array.from({ length: clusters }, (_, c) => 1 / (c + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const draw = (out: Float32Array, row: number): void => {
    let r = rng.next() * total;
    let c = 0;
    while (c < clusters - 1 && (r -= weights[c]!) > 0) c++;
    for (let d = 0; d < dim; d++)
      out[row * dim + d] = centres[c * dim + d]! + spread * rng.normal();
  };
  const vectors = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) draw(vectors, i);
  const queries = new Float32Array(options.queries * dim);
  for (let i = 0; i < options.queries; i++) draw(queries, i);
  return { dimension: dim, vectors, queries };
}
