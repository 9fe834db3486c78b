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
