import pg from "pg";
import type { Adjustment, Charge } from "../gcra.js";
import type { LimiterBackend } from "./types.js";

/** Serialises the schema set-up when many processes open the limiter at once. */
const SCHEMA_LOCK = 7_260_111_005;

// The limiter keeps its own tables rather than a store migration: it may live
// in a different database from the journal, and works without a store.
// Functions take the server's clock, so machines with skewed clocks agree.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS flotilla_fleet_buckets (
  dependency text NOT NULL,
  bucket text NOT NULL,
  tat double precision NOT NULL,
  PRIMARY KEY (dependency, bucket)
);
CREATE TABLE IF NOT EXISTS flotilla_fleet_reports (
  reporter text PRIMARY KEY,
  at timestamptz NOT NULL,
  snapshot jsonb NOT NULL
);
-- Mirrors gcraReserve: all charges or none. Rows are locked in bucket-name
-- order, so concurrent admissions cannot deadlock each other.
CREATE OR REPLACE FUNCTION flotilla_fleet_reserve(
  dep text, names text[], units float8[], intervals float8[], tolerances float8[]
) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  now_ms float8;
  wait float8 := 0;
  tats float8[] := '{}';
  t float8;
BEGIN
  INSERT INTO flotilla_fleet_buckets (dependency, bucket, tat)
    SELECT dep, n, 0 FROM unnest(names) AS n ORDER BY n ON CONFLICT DO NOTHING;
  PERFORM 1 FROM flotilla_fleet_buckets
    WHERE dependency = dep AND bucket = ANY(names) ORDER BY bucket FOR UPDATE;
  now_ms := extract(epoch FROM clock_timestamp()) * 1000;
  FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
    SELECT greatest(b.tat, now_ms) INTO t FROM flotilla_fleet_buckets b
      WHERE b.dependency = dep AND b.bucket = names[i];
    wait := greatest(wait, t - now_ms - tolerances[i]);
    tats[i] := t + units[i] * intervals[i];
  END LOOP;
  IF wait > 0 THEN RETURN wait; END IF;
  FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
    UPDATE flotilla_fleet_buckets SET tat = tats[i] WHERE dependency = dep AND bucket = names[i];
  END LOOP;
  RETURN 0;
END $$;
-- The settle of earlier versions (a closure plus a tolerance in place of a floor).
DROP FUNCTION IF EXISTS flotilla_fleet_settle(text, text[], float8[], float8[], float8[], float8[]);
-- Mirrors gcraSettle.
CREATE OR REPLACE FUNCTION flotilla_fleet_settle(
  dep text, names text[], units float8[], intervals float8[], floors float8[]
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  now_ms float8 := extract(epoch FROM clock_timestamp()) * 1000;
BEGIN
  FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
    INSERT INTO flotilla_fleet_buckets AS b (dependency, bucket, tat)
      VALUES (dep, names[i], now_ms + units[i] * intervals[i])
      ON CONFLICT (dependency, bucket) DO UPDATE SET tat = b.tat + units[i] * intervals[i];
    IF floors[i] > 0 THEN
      UPDATE flotilla_fleet_buckets SET tat = greatest(tat, now_ms + floors[i])
        WHERE dependency = dep AND bucket = names[i];
    END IF;
  END LOOP;
END $$;
`;

/** Limiter state in PostgreSQL: one function call (one round trip) per admission. */
export class PostgresLimiter implements LimiterBackend {
  readonly kind = "postgres";
  readonly degraded = false;

  private constructor(private readonly pool: pg.Pool) {}

  static async open(url: string, timeoutMs = 2000): Promise<PostgresLimiter> {
    const pool = new pg.Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
    });
    // An idle client that loses its server emits here; the next query reports it.
    pool.on("error", () => undefined);
    try {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
        await client.query(SCHEMA);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new PostgresLimiter(pool);
  }

  async reserve(key: string, charges: readonly Charge[]): Promise<number> {
    const sorted = [...charges].sort((a, b) => a.bucket.localeCompare(b.bucket));
    const { rows } = await this.pool.query<{ wait: number }>(
      "SELECT flotilla_fleet_reserve($1, $2, $3, $4, $5) AS wait",
      [
        key,
        sorted.map((c) => c.bucket),
        sorted.map((c) => c.units),
        sorted.map((c) => c.intervalMs),
        sorted.map((c) => c.toleranceMs),
      ],
    );
    return Number(rows[0]?.wait ?? 0);
  }

  async settle(key: string, adjustments: readonly Adjustment[]): Promise<void> {
    const sorted = [...adjustments].sort((a, b) => a.bucket.localeCompare(b.bucket));
    await this.pool.query("SELECT flotilla_fleet_settle($1, $2, $3, $4, $5)", [
      key,
      sorted.map((a) => a.bucket),
      sorted.map((a) => a.units),
      sorted.map((a) => a.intervalMs),
      sorted.map((a) => a.floorMs),
    ]);
  }

  async publish(reporter: string, snapshot: unknown, ttlMs: number): Promise<number> {
    const { rows } = await this.pool.query<{ live: string }>(
      `WITH up AS (
         INSERT INTO flotilla_fleet_reports (reporter, at, snapshot) VALUES ($1, clock_timestamp(), $2)
         ON CONFLICT (reporter) DO UPDATE SET at = excluded.at, snapshot = excluded.snapshot
       )
       SELECT count(*) + 1 AS live FROM flotilla_fleet_reports
        WHERE reporter <> $1 AND at > clock_timestamp() - $3 * interval '1 millisecond'`,
      [reporter, JSON.stringify(snapshot), ttlMs],
    );
    return Number(rows[0]?.live ?? 1);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** What every process published recently, for `flotilla fleet`. */
export async function readPostgresReports(
  url: string,
  maxAgeMs: number,
): Promise<{ reporter: string; ageMs: number; snapshot: unknown }[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const exists = await client.query<{ t: string | null }>(
      "SELECT to_regclass('flotilla_fleet_reports')::text AS t",
    );
    if (!exists.rows[0]?.t) return [];
    const { rows } = await client.query<{ reporter: string; age_ms: number; snapshot: unknown }>(
      `SELECT reporter, extract(epoch FROM clock_timestamp() - at) * 1000 AS age_ms, snapshot
         FROM flotilla_fleet_reports
        WHERE at > clock_timestamp() - $1 * interval '1 millisecond' ORDER BY reporter`,
      [maxAgeMs],
    );
    return rows.map((r) => ({
      reporter: r.reporter,
      ageMs: Number(r.age_ms),
      snapshot: r.snapshot,
    }));
  } finally {
    await client.end();
  }
}
