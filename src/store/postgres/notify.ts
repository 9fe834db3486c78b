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
