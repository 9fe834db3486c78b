import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteDriver } from "../../src/store/sqlite/driver.js";
import {
  Flotilla,
  type FlotillaOptions,
  type SqlTool,
  type SqlToolOptions,
} from "../../src/index.js";
import { freshDatabase } from "../support/postgres.js";
import { postgresRaw, sqliteRaw, type RawDb } from "./rawDb.js";

export type Engine = "sqlite" | "postgres";

/**
 * A guarded database and a Flotilla whose agents write to it: on SQLite a
 * file of its own (the journal in another), on PostgreSQL one database for
 * both (a fresh one, unless `postgresUrl` is given). `raw` is a plain
 * connection, for people editing rows by hand.
 */
export interface SqlWorld {
  engine: Engine;
  f: Flotilla;
  raw: RawDb;
  url: string;
  /** Flotilla's own store (the journal). */
  journal: string;
  /** The n-th placeholder of this engine: $n or ?. */
  p: (n: number) => string;
  tool(name: string, options?: Partial<SqlToolOptions>): SqlTool;
  done(): Promise<void>;
}

export async function sqlWorld(
  engine: Engine,
  options: { postgresUrl?: string; flotilla?: Partial<FlotillaOptions> } = {},
): Promise<SqlWorld> {
  let url: string;
  let drop: () => Promise<void>;
  let journal: string;
  if (engine === "postgres") {
    ({ url, drop } = options.postgresUrl
      ? { url: options.postgresUrl, drop: () => Promise.resolve() }
      : await freshDatabase());
    journal = url;
  } else {
    const dir = mkdtempSync(join(tmpdir(), "flotilla-sql-"));
    url = join(dir, "app.db");
    const file = new SqliteDriver(url);
    file.pragma("journal_mode = WAL");
    file.close();
    journal = join(dir, "flotilla.db");
    drop = async () => rmSync(dir, { recursive: true, force: true });
  }
  const raw = engine === "postgres" ? await postgresRaw(url) : sqliteRaw(url);
  const f = await Flotilla.open({
    store: journal,
    worker: { pollMs: 20, leaseMs: 2000 },
    stopGraceMs: 500,
    inlineWaitMs: 0,
    ...options.flotilla,
  });
  const tools: SqlTool[] = [];
  return {
    engine,
    f,
    raw,
    url,
    journal,
    p: raw.param,
    tool: (name, given = {}) => {
      const t = f.sqlTool(name, { store: url, ...given });
      tools.push(t);
      return t;
    },
    done: async () => {
      for (const t of tools) await t.close();
      await f.close();
      await raw.close();
      await drop();
    },
  };
}
