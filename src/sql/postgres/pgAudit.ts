import type pg from "pg";
import { InvalidArgumentError } from "../../core/errors.js";
import type { GuardedTable } from "../database.js";
import { SqlUnknownTableError } from "../errors.js";
import { ident, literal } from "../quote.js";

/**
 * The audit's tables and trigger functions, in schema `public` and named
 * in full, so a writer's search_path cannot send them elsewhere. The
 * functions run as their owner (SECURITY DEFINER), so anyone allowed to
 * write a guarded table is audited without rights on the audit itself.
 * Attribution comes from two settings the SQL tool sets in the statement's
 * own transaction (`SET LOCAL flotilla.run_id`, `flotilla.step`): anyone
 * else's write is recorded with neither.
 */
export const PG_AUDIT_SCHEMA = `
CREATE TABLE IF NOT EXISTS public.flotilla_audit (
  seq bigserial PRIMARY KEY,
  run_id text,
  step text,
  tbl text NOT NULL,
  pk jsonb NOT NULL,
  op text NOT NULL,
  before jsonb,
  after jsonb,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  outcome text,
  undone_at timestamptz,
  undone_by text,
  conflict jsonb
);
CREATE INDEX IF NOT EXISTS flotilla_audit_run ON public.flotilla_audit (run_id, step);
CREATE INDEX IF NOT EXISTS flotilla_audit_row ON public.flotilla_audit (tbl, pk, seq);
CREATE TABLE IF NOT EXISTS public.flotilla_guard (
  tbl text PRIMARY KEY,
  relid oid NOT NULL,
  pk text[] NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.flotilla_sql_statements (
  run_id text NOT NULL,
  step text NOT NULL,
  tool text NOT NULL,
  sql text NOT NULL,
  row_count integer NOT NULL,
  result jsonb NOT NULL,
  side_channels jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, step)
);
CREATE OR REPLACE FUNCTION public.flotilla_audit_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
DECLARE
  b jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
  a jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
BEGIN
  INSERT INTO public.flotilla_audit (run_id, step, tbl, pk, op, before, after)
  VALUES (nullif(current_setting('flotilla.run_id', true), ''),
          nullif(current_setting('flotilla.step', true), ''),
          quote_ident(TG_TABLE_SCHEMA) || '.' || quote_ident(TG_TABLE_NAME),
          (SELECT jsonb_object_agg(k, coalesce(a, b) -> k) FROM unnest(TG_ARGV) AS k),
          TG_OP, b, a);
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION public.flotilla_audit_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
DECLARE
  tbl text := quote_ident(TG_TABLE_SCHEMA) || '.' || quote_ident(TG_TABLE_NAME);
BEGIN
  -- TRUNCATE fires no row trigger: every row it is about to remove is kept as a DELETE.
  EXECUTE format(
    'INSERT INTO public.flotilla_audit (run_id, step, tbl, pk, op, before)
     SELECT nullif(current_setting(''flotilla.run_id'', true), ''''),
            nullif(current_setting(''flotilla.step'', true), ''''), %L,
            (SELECT jsonb_object_agg(k, to_jsonb(t) -> k) FROM unnest($1) AS k), ''DELETE'', to_jsonb(t)
     FROM %s AS t', tbl, tbl) USING TG_ARGV;
  RETURN NULL;
END
$fn$;
`;

/** Both spellings of a name from a statement: as PostgreSQL folds it, and quoted as written. */
export function nameForms(name: string): [string, string] {
  return [name, name.split(".").map(ident).join(".")];
}

/** The table's oid and schema-qualified, quoted name; undefined when it does not exist. */
export async function resolveTable(
  client: pg.ClientBase,
  name: string,
): Promise<{ relid: number; table: string } | undefined> {
  const [plain, quoted] = nameForms(name);
  const { rows } = await client.query<{ relid: number; table: string }>(
    `SELECT c.oid::int8 AS relid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS table
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = coalesce(to_regclass($1), to_regclass($2)) AND c.relkind IN ('r', 'p')`,
    [plain, quoted],
  );
  const row = rows[0];
  return row ? { relid: Number(row.relid), table: row.table } : undefined;
}

async function primaryKey(client: pg.ClientBase, relid: number): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = $1 AND i.indisprimary
     ORDER BY array_position(i.indkey::int2[], a.attnum)`,
    [relid],
  );
  return rows.map((r) => r.name);
}

export async function columnsOf(
  client: pg.ClientBase,
  relid: number,
): Promise<{ name: string; generated: boolean; identityAlways: boolean }[]> {
  const { rows } = await client.query<{ name: string; generated: boolean; always: boolean }>(
    `SELECT attname AS name, attgenerated <> '' AS generated, attidentity = 'a' AS always
     FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [relid],
  );
  return rows.map((r) => ({ name: r.name, generated: r.generated, identityAlways: r.always }));
}

/** Installs the audit and the triggers of `tables`, in the caller's transaction. */
export async function installGuard(
  client: pg.ClientBase,
  tables: readonly string[],
): Promise<GuardedTable[]> {
  // Concurrent CREATE OR REPLACE FUNCTION calls fail ("tuple concurrently updated"): one at a time.
  await client.query("SELECT pg_advisory_xact_lock(hashtext('flotilla_guard'))");
  await client.query(PG_AUDIT_SCHEMA);
  const guarded: GuardedTable[] = [];
  for (const name of tables) {
    const found = await resolveTable(client, name);
    if (!found || /^public\.flotilla_/.test(found.table)) throw new SqlUnknownTableError(name);
    const pk = await primaryKey(client, found.relid);
    if (pk.length === 0)
      throw new InvalidArgumentError(
        `table ${found.table} has no primary key, so its rows cannot be told apart for a rollback; declare one to guard it`,
        { table: found.table },
      );
    const args = pk.map(literal).join(", ");
    await client.query(`
      DROP TRIGGER IF EXISTS flotilla_audit ON ${found.table};
      CREATE TRIGGER flotilla_audit AFTER INSERT OR UPDATE OR DELETE ON ${found.table}
        FOR EACH ROW EXECUTE FUNCTION public.flotilla_audit_row(${args});
      DROP TRIGGER IF EXISTS flotilla_audit_truncate ON ${found.table};
      CREATE TRIGGER flotilla_audit_truncate BEFORE TRUNCATE ON ${found.table}
        FOR EACH STATEMENT EXECUTE FUNCTION public.flotilla_audit_truncate(${args});`);
    await client.query(
      `INSERT INTO public.flotilla_guard (tbl, relid, pk) VALUES ($1, $2, $3)
       ON CONFLICT (tbl) DO UPDATE SET relid = excluded.relid, pk = excluded.pk, at = now()`,
      [found.table, found.relid, pk],
    );
    const columns = (await columnsOf(client, found.relid)).map((c) => c.name);
    guarded.push({ table: found.table, primaryKey: pk, columns });
  }
  return guarded;
}
