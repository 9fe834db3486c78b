import { normalizeRows, squaredL2, type Space } from "./distance.js";
import { createRng, type Rng } from "../core/rng.js";

export interface KMeansOptions {
  partitions: number;
  space: Space;
  iterations: number;
  seed: number;
  /** A partition may take at most (1+slack)·n/partitions training points. */
  slack: number;
}

/**
 * Balanced k-means (spherical for cosine): k-means++ seeding, then Lloyd
 * iterations whose assignment step fills partitions greedily by distance up
 * to a capacity. Plain k-means on real embeddings yields a few huge
 * partitions, and then probing one partition costs as much as fan-out.
 */
export function trainBalancedKMeans(
  data: Float32Array,
  dimension: number,
  options: KMeansOptions,
): Float32Array {
  const n = data.length / dimension;
  const k = options.partitions;
  const rng = createRng(options.seed);
  const centroids = seedPlusPlus(data, n, dimension, k, rng);
  if (options.space === "cosine") normalizeRows(centroids, dimension);
  const capacity = Math.ceil((n / k) * (1 + options.slack));
  const assignment = new Int32Array(n);
  for (let iter = 0; iter < options.iterations; iter++) {
    assignBalanced(data, n, dimension, centroids, k, capacity, assignment);
    recompute(data, n, dimension, centroids, k, assignment, rng);
    if (options.space === "cosine") normalizeRows(centroids, dimension);
  }
  return centroids;
}

function seedPlusPlus(
  data: Float32Array,
  n: number,
  dim: number,
  k: number,
  rng: Rng,
): Float32Array {
  const centroids = new Float32Array(k * dim);
  const nearest = new Float64Array(n).fill(Infinity);
  let pick = rng.int(0, n - 1);
  for (let c = 0; c < k; c++) {
    centroids.set(data.subarray(pick * dim, (pick + 1) * dim), c * dim);
    let total = 0;
    for (let i = 0; i < n; i++) {
      nearest[i] = Math.min(nearest[i]!, squaredL2(data, i * dim, centroids, c * dim, dim));
      total += nearest[i]!;
    }
    let r = rng.next() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= nearest[i]!;
      if (r <= 0) {
        pick = i;
        break;
      }
    }
  }
  return centroids;
}

function assignBalanced(
  data: Float32Array,
  n: number,
  dim: number,
  centroids: Float32Array,
  k: number,
  capacity: number,
  assignment: Int32Array,
): void {
  const dists = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++)
      dists[i * k + c] = squaredL2(data, i * dim, centroids, c * dim, dim);
  }
  const order = new Uint32Array(n * k);
  for (let j = 0; j < order.length; j++) order[j] = j;
  order.sort((a, b) => dists[a]! - dists[b]!);
  const load = new Int32Array(k);
  assignment.fill(-1);
  let left = n;
  for (let j = 0; j < order.length && left > 0; j++) {
    const pair = order[j]!;
    const i = Math.floor(pair / k);
    const c = pair % k;
    if (assignment[i] !== -1 || load[c]! >= capacity) continue;
    assignment[i] = c;
    load[c]!++;
    left--;
  }
}

function recompute(
  data: Float32Array,
  n: number,
  dim: number,
  centroids: Float32Array,
  k: number,
  assignment: Int32Array,
  rng: Rng,
): void {
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    counts[c]!++;
    for (let d = 0; d < dim; d++) sums[c * dim + d]! += data[i * dim + d]!;
  }
  for (let c = 0; c < k; c++) {
    // An empty partition is reseeded on a random point rather than left dead.
    if (counts[c] === 0) {
      const i = rng.int(0, n - 1);
      centroids.set(data.subarray(i * dim, (i + 1) * dim), c * dim);
      continue;
    }
    for (let d = 0; d < dim; d++) centroids[c * dim + d] = sums[c * dim + d]! / counts[c]!;
  }
}
