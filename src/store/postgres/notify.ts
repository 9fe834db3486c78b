import { settles, type Commit } from "../types.js";
import type { Queryable } from "./sql.js";

/**
 * The LISTEN/NOTIFY channel idle workers wait on; PostgresStore decodes its
 * payloads. Sent inside a transaction, a notification goes out only if it commits.
 */
export const CHANNEL = "flotilla";

export async function notifyRunnable(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_notify('${CHANNEL}', 'runnable')`);
}

export async function notifyCancel(db: Queryable, runId: string): Promise<void> {
  await db.query(`SELECT pg_notify('${CHANNEL}', $1)`, [`cancel:${runId}`]);
}

/** What one commit announces once it lands (NOTIFY payloads on the channel). */
export function announcements(b: Commit): string[] {
  const status = b.status?.status;
  const runnable =
    (b.newRuns?.length ?? 0) > 0 ||
    (b.wake?.length ?? 0) > 0 ||
    status === "pending" ||
    status === "waiting";
  return [
    ...(runnable ? ["runnable"] : []),
    ...(status !== undefined && settles(status) ? [`settled:${b.runId}`] : []),
  ];
}
