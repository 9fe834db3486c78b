import { rmSync } from "node:fs";
import { join } from "node:path";

export type StoreKind = "sqlite" | "postgres";

/** Where one measure runs: a store of its own, removed afterwards. */
export interface Place {
  kind: StoreKind;
  /** A store URL (PostgreSQL) or file path (SQLite) for Flotilla and the raw baseline alike. */
  url: string;
  drop: () => Promise<void>;
}

export type NewPlace = (label: string) => Promise<Place>;

/** A fresh SQLite file per measure in `dir`. */
export function sqlitePlaces(dir: string): NewPlace {
  let n = 0;
  return (label) => {
    const path = join(dir, `${label}-${++n}.db`);
    const drop = () => {
      for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
      return Promise.resolve();
    };
    return Promise.resolve({ kind: "sqlite", url: path, drop });
  };
}

/** A fresh PostgreSQL database per measure. */
export function postgresPlaces(
  newDatabase: () => Promise<{ url: string; drop: () => Promise<void> }>,
): NewPlace {
  return async () => ({ kind: "postgres", ...(await newDatabase()) });
}

/** Runs `measure` in a fresh place and drops it, whatever happens. */
export async function inFreshPlace<T>(
  newPlace: NewPlace,
  label: string,
  measure: (place: Place) => Promise<T>,
): Promise<T> {
  const place = await newPlace(label);
  try {
    return await measure(place);
  } finally {
    await place.drop();
  }
}
