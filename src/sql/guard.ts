import { z } from "zod";
import { parseOptions } from "../core/validate.js";
import type { GuardedTable } from "./database.js";
import { openSqlDatabase } from "./open.js";

const tablesSchema = z
  .array(z.string().min(1).max(300), { error: "must be a list of table names" })
  .min(1, { error: "name at least one table" });

/**
 * Guards tables of a database (`flotilla sql guard <url> <tables…>`):
 * installs the audit tables and, on each table, row triggers that keep
 * every change's before- and after-image with the run and step that made
 * it (none for a write made outside the SQL tool). Run it again after
 * changing a table's columns or key. Idempotent.
 */
export async function guardTables(url: string, tables: readonly string[]): Promise<GuardedTable[]> {
  const names = parseOptions(tablesSchema, tables, "tables");
  const db = await openSqlDatabase(url, {}, "url");
  try {
    return await db.guard(names);
  } finally {
    await db.close();
  }
}
