import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The package's `sql/` folder, found from either `src/` or the built `dist/src/`. */
function sqlRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "sql")) && existsSync(join(dir, "package.json")))
      return join(dir, "sql");
    const parent = dirname(dir);
    if (parent === dir) throw new Error("flotilla: cannot find the sql/ migrations folder");
    dir = parent;
  }
}

/** Numbered migrations (`000001.sql`, …) for one dialect, in order. */
export function loadMigrations(dialect: "sqlite" | "postgres"): Migration[] {
  const dir = join(sqlRoot(), dialect);
  return readdirSync(dir)
    .filter((f) => /^\d{6}\.sql$/.test(f))
    .sort()
    .map((name) => ({
      version: Number(name.slice(0, 6)),
      name,
      sql: readFileSync(join(dir, name), "utf8"),
    }));
}

/**
 * For a store opened without `create`: refuses one that was never made or
 * is older than this version, saying what would fix it, instead of
 * creating or migrating it behind an operator's read.
 */
export function checkMigrated(
  dialect: "sqlite" | "postgres",
  applied: ReadonlySet<number> | undefined,
): void {
  if (applied === undefined)
    throw new Error(
      "it holds no Flotilla store (nothing has run on it yet: flotilla demo or a worker creates one)",
    );
  const missing = loadMigrations(dialect).filter((m) => !applied.has(m.version));
  if (missing.length > 0)
    throw new Error(
      `its schema is older than this version of Flotilla (${missing.length} migration(s) to apply, from ${missing[0]?.name}): start a worker or run flotilla demo on it to upgrade it`,
    );
}
