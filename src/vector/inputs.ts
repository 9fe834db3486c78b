import { normalizeRows, type Space } from "./distance.js";
import { VectorIndexError, describeReceived } from "./errors.js";

/** Rows given as one Float32Array (row-major) or as arrays of numbers. */
export type VectorRows = Float32Array | readonly (readonly number[] | Float32Array)[];

/** Ids are what hnswlib can label: non-negative safe integers. */
export function checkId(id: unknown, field = "id"): number {
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) {
    throw new VectorIndexError(
      `${field} must be a non-negative safe integer (received ${String(describeReceived(id))})`,
      {
        field,
        received: describeReceived(id),
      },
    );
  }
  return id;
}

export function checkK(k: unknown, field = "k"): number {
  if (typeof k !== "number" || !Number.isInteger(k) || k < 1 || k > 10_000) {
    throw new VectorIndexError(
      `${field} must be an integer from 1 to 10000 (received ${String(describeReceived(k))})`,
      {
        field,
        received: describeReceived(k),
      },
    );
  }
  return k;
}

/**
 * Copies rows into one Float32Array, checking dimension and finiteness, and
 * scales them to unit length for cosine (where a zero vector has no direction
 * and is refused).
 */
export function toRows(
  rows: VectorRows,
  dimension: number,
  space: Space,
  field: string,
  single = false,
): Float32Array {
  // A lone vector's fields are named like `query[3]`, a batch's like `queries[2][3]`.
  const rowField = (row: number, rest: string): string =>
    single ? `${field}${rest}` : `${field}[${row}]${rest}`;
  let out: Float32Array;
  if (rows instanceof Float32Array) {
    if (rows.length % dimension !== 0) {
      throw new VectorIndexError(
        `${field} must hold whole rows of dimension ${dimension} (received ${rows.length} numbers)`,
        { field, received: rows.length, dimension },
      );
    }
    out = rows.slice();
  } else {
    out = new Float32Array(rows.length * dimension);
    rows.forEach((row, i) => {
      if (row.length !== dimension) {
        throw new VectorIndexError(
          `${field}[${i}] has dimension ${row.length}, expected ${dimension}`,
          {
            field: `${field}[${i}]`,
            received: row.length,
            dimension,
          },
        );
      }
      out.set(row, i * dimension);
    });
  }
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) {
      const where = rowField(Math.floor(i / dimension), `[${i % dimension}]`);
      throw new VectorIndexError(`${where} is not a finite number`, {
        field: where,
        received: String(out[i]),
      });
    }
  }
  if (space === "cosine") {
    for (let off = 0; off < out.length; off += dimension) {
      if (out.subarray(off, off + dimension).every((x) => x === 0)) {
        const where = rowField(off / dimension, "");
        throw new VectorIndexError(`${where} is a zero vector, which has no cosine direction`, {
          field: where,
          received: "zero vector",
        });
      }
    }
    normalizeRows(out, dimension);
  }
  return out;
}

/** Single vector convenience over `toRows`. */
export function toRow(
  vector: readonly number[] | Float32Array,
  dimension: number,
  space: Space,
  field: string,
): Float32Array {
  if (!(vector instanceof Float32Array) && !Array.isArray(vector)) {
    throw new VectorIndexError(`${field} must be an array of numbers`, {
      field,
      received: describeReceived(vector),
    });
  }
  if (vector.length !== dimension) {
    throw new VectorIndexError(`${field} has dimension ${vector.length}, expected ${dimension}`, {
      field,
      received: vector.length,
      dimension,
    });
  }
  return toRows([vector], dimension, space, field, true);
}
