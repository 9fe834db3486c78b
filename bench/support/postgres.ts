import pg from "pg";
import { randomBytes } from "node:crypto";

/** The server tests use: DATABASE_URL, else the standard PG* variables, else database `test` on 127.0.0.1. */
export function baseDatabaseUrl(): string {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const host = process.env.PGHOST ?? "127.0.0.1";
  const port = process.env.PGPORT ?? "5432";
  const user = process.env.PGUSER ?? "postgres";
  const password = process.env.PGPASSWORD ? `:${encodeURIComponent(process.env.PGPASSWORD)}` : "";
  const db = process.env.PGDATABASE ?? "test";
  return `postgres://${encodeURIComponent(user)}${password}@${host}:${port}/${db}`;
}

async function reachable(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Why PostgreSQL tests must be skipped, or undefined when they can run. With
 * CI=true an unreachable server is a failure, never a skip.
 */
export async function postgresSkipReason(): Promise<string | undefined> {
  const problem = await reachable(baseDatabaseUrl());
  if (!problem) return undefined;
  if (process.env.CI === "true") {
    throw new Error(`CI=true but PostgreSQL is unreachable at ${baseDatabaseUrl()}: ${problem}`);
  }
  const reason = `PostgreSQL unreachable at ${baseDatabaseUrl()} (${problem}); skipping PostgreSQL tests`;
  process.stderr.write(`# ${reason}\n`);
  return reason;
}

/** A fresh, empty database for one test file or benchmark; `drop()` removes it. */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = baseDatabaseUrl();
  const name = `flotilla_t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
