/**
 * Distances computed the way hnswlib computes them, so exact and approximate
 * results are comparable: cosine is `1 - dot` of unit vectors, l2 is the
 * squared Euclidean distance.
 */
export type Space = "cosine" | "l2";

export function dot(
  a: Float32Array,
  aOff: number,
  b: Float32Array,
  bOff: number,
  dim: number,
): number {
  let s = 0;
  for (let i = 0; i < dim; i++) s += a[aOff + i]! * b[bOff + i]!;
  return s;
}

export function squaredL2(
  a: Float32Array,
  aOff: number,
  b: Float32Array,
  bOff: number,
  dim: number,
): number {
  let s = 0;
  for (let i = 0; i < dim; i++) {
    const d = a[aOff + i]! - b[bOff + i]!;
    s += d * d;
  }
  return s;
}

/** Scales each row of `rows` to unit length in place; zero rows stay zero. */
export function normalizeRows(rows: Float32Array, dim: number): Float32Array {
  for (let off = 0; off < rows.length; off += dim) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += rows[off + i]! * rows[off + i]!;
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < dim; i++) rows[off + i]! *= inv;
  }
  return rows;
}

/** Distance between row `a` of `as` and row `b` of `bs` in `space`; both unit rows for cosine. */
export function distance(
  space: Space,
  as: Float32Array,
  aOff: number,
  bs: Float32Array,
  bOff: number,
  dim: number,
): number {
  return space === "cosine" ? 1 - dot(as, aOff, bs, bOff, dim) : squaredL2(as, aOff, bs, bOff, dim);
}
