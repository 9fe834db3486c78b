import type { RunStatus, StoreCounts } from "../types.js";
import type { Queryable } from "./sql.js";

export async function counts(db: Queryable): Promise<StoreCounts> {
  // Both read an index (runs_claimable, dead_letters_class); counts come back as bigint text.
  const [runs, dead] = await Promise.all([
    db.query<{ status: RunStatus; n: string }>(
      "SELECT status, COUNT(*) AS n FROM runs GROUP BY status",
    ),
    db.query<{ class: string; status: string; n: string }>(
      "SELECT class, status, COUNT(*) AS n FROM dead_letters GROUP BY status, class",
    ),
  ]);
  return {
    runs: runs.rows.map((r) => ({ status: r.status, count: Number(r.n) })),
    deadLetters: dead.rows.map((d) => ({ class: d.class, status: d.status, count: Number(d.n) })),
  };
}
