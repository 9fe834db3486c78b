import type Database from "better-sqlite3";
import type { RunStatus, StoreCounts } from "../types.js";
import { prepared } from "./sql.js";

// Both read an index (runs_claimable, dead_letters_class), not the rows.
const runsByStatus = prepared("SELECT status, COUNT(*) AS n FROM runs GROUP BY status");
const deadLettersByClass = prepared(
  "SELECT class, status, COUNT(*) AS n FROM dead_letters GROUP BY status, class",
);

export function counts(db: Database.Database): StoreCounts {
  const runs = runsByStatus(db).all() as { status: RunStatus; n: number }[];
  const dead = deadLettersByClass(db).all() as { class: string; status: string; n: number }[];
  return {
    runs: runs.map((r) => ({ status: r.status, count: r.n })),
    deadLetters: dead.map((d) => ({ class: d.class, status: d.status, count: d.n })),
  };
}
