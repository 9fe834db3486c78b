import type pg from "pg";
import type { Json } from "../../core/json.js";
import type { AuditEntry, EntryOutcome, RestoreTx, RowChange } from "../database.js";
import { SqlNotGuardedError } from "../errors.js";
import { ident } from "../quote.js";
import { columnsOf } from "./pgAudit.js";

export interface PgAuditRow {
  seq: string;
  run_id: string | null;
  step: string | null;
  tbl: string;
  pk: Json;
  pk_text: string;
  op: AuditEntry["op"];
  before: Json | null;
  after: Json | null;
  at: Date;
  outcome: AuditEntry["outcome"];
  conflict: Json | null;
}

export function pgAuditEntry(r: PgAuditRow): AuditEntry {
  return {
    seq: Number(r.seq),
    runId: r.run_id,
    step: r.step,
    table: r.tbl,
    key: r.pk,
    keyText: r.pk_text,
    op: r.op,
    before: r.before,
    after: r.after,
    at: r.at.toISOString(),
    outcome: r.outcome,
    current: r.conflict,
  };
}

interface Shape {
  primaryKey: string[];
  /** Columns an INSERT writes (generated ones are computed). */
  insertable: string[];
  /** Columns an UPDATE writes (identity ALWAYS columns cannot be). */
  updatable: string[];
}

const AUDIT_COLUMNS =
  "seq, run_id, step, tbl, pk, pk::text AS pk_text, op, before, after, at, outcome, conflict";

/** One rollback transaction on PostgreSQL (begun, and ended, by PgDatabase.restore). */
export class PgRestoreTx implements RestoreTx {
  private readonly shapes = new Map<string, Shape>();
  private savepoint = 0;
  /** Rows this transaction has restored: each leaves exactly one audit row under `tag`. */
  private restored = 0;

  constructor(
    private readonly client: pg.ClientBase,
    private readonly tag: string,
  ) {}

  private async shape(table: string): Promise<Shape> {
    let shape = this.shapes.get(table);
    if (!shape) {
      const { rows } = await this.client.query<{ relid: string; pk: string[] }>(
        "SELECT relid::int8 AS relid, pk FROM public.flotilla_guard WHERE tbl = $1 AND relid = to_regclass($1)",
        [table],
      );
      const guard = rows[0];
      if (!guard) throw new SqlNotGuardedError(table, "is no longer guarded (or no longer exists)");
      const columns = await columnsOf(this.client, Number(guard.relid));
      const stored = columns.filter((c) => !c.generated);
      shape = {
        primaryKey: guard.pk,
        insertable: stored.map((c) => c.name),
        updatable: stored.filter((c) => !c.identityAlways).map((c) => c.name),
      };
      this.shapes.set(table, shape);
    }
    return shape;
  }

  private keyMatch(shape: Shape, row: string, key: string): string {
    return shape.primaryKey.map((c) => `${row}.${ident(c)} = ${key}.${ident(c)}`).join(" AND ");
  }

  async pending(seqs: readonly number[]): Promise<AuditEntry[]> {
    const { rows } = await this.client.query<PgAuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM public.flotilla_audit
       WHERE seq = ANY ($1::int8[]) AND outcome IS DISTINCT FROM 'restored'
       ORDER BY seq DESC FOR UPDATE`,
      [seqs],
    );
    return rows.map(pgAuditEntry);
  }

  async current(entry: AuditEntry): Promise<Json | null> {
    const shape = await this.shape(entry.table);
    const { rows } = await this.client.query<{ img: Json }>(
      `SELECT to_jsonb(t) AS img FROM ${entry.table} AS t,
         jsonb_populate_record(NULL::${entry.table}, $1::jsonb) AS k
       WHERE ${this.keyMatch(shape, "t", "k")} FOR UPDATE OF t`,
      [entry.keyText],
    );
    return rows[0]?.img ?? null;
  }

  private async restoreSql(entry: AuditEntry): Promise<{ sql: string; values: string[] }> {
    const shape = await this.shape(entry.table);
    const t = entry.table;
    const before = JSON.stringify(entry.before);
    if (entry.op === "INSERT")
      return {
        sql: `DELETE FROM ${t} AS t USING jsonb_populate_record(NULL::${t}, $1::jsonb) AS k WHERE ${this.keyMatch(shape, "t", "k")}`,
        values: [entry.keyText],
      };
    if (entry.op === "DELETE") {
      const cols = shape.insertable.map(ident).join(", ");
      return {
        sql: `INSERT INTO ${t} (${cols}) OVERRIDING SYSTEM VALUE SELECT ${cols} FROM jsonb_populate_record(NULL::${t}, $1::jsonb)`,
        values: [before],
      };
    }
    return {
      sql: `UPDATE ${t} AS t SET ${shape.updatable.map((c) => `${ident(c)} = r.${ident(c)}`).join(", ")}
            FROM jsonb_populate_record(NULL::${t}, $1::jsonb) AS r, jsonb_populate_record(NULL::${t}, $2::jsonb) AS k
            WHERE ${this.keyMatch(shape, "t", "k")}`,
      values: [before, entry.keyText],
    };
  }

  async apply(entry: AuditEntry): Promise<{ ok: true } | { ok: false; reason: string }> {
    const { sql, values } = await this.restoreSql(entry);
    const name = `r${++this.savepoint}`;
    await this.client.query(`SAVEPOINT ${name}`);
    let reason: string | undefined;
    try {
      const changed = await this.client.query(sql, values);
      const { rows } = await this.client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM public.flotilla_audit WHERE run_id IS NULL AND step = $1",
        [this.tag],
      );
      // The row and nothing else: a cascade or a trigger reaching other rows leaves more audit rows.
      const others = (rows[0]?.n ?? 0) - this.restored - 1;
      if (changed.rowCount !== 1) reason = "the row is not where the run left it";
      else if (others !== 0)
        reason = `restoring it would change ${others} other row(s) (a cascade or a trigger)`;
    } catch (err) {
      reason = `the database refused to restore it: ${(err as Error).message}`;
    }
    if (reason !== undefined) await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`);
    else this.restored++;
    await this.client.query(`RELEASE SAVEPOINT ${name}`);
    return reason === undefined ? { ok: true } : { ok: false, reason };
  }

  async lastChange(entry: AuditEntry): Promise<RowChange | null> {
    const { rows } = await this.client.query<{
      run_id: string | null;
      step: string | null;
      at: Date;
    }>(
      `SELECT run_id, step, at FROM public.flotilla_audit WHERE tbl = $1 AND pk = $2::jsonb AND seq > $3
       ORDER BY seq DESC LIMIT 1`,
      [entry.table, entry.keyText, entry.seq],
    );
    const row = rows[0];
    return row ? { runId: row.run_id, step: row.step, at: row.at.toISOString() } : null;
  }

  async mark(outcomes: readonly EntryOutcome[], by: string): Promise<void> {
    if (outcomes.length === 0) return;
    await this.client.query(
      `UPDATE public.flotilla_audit AS a
       SET outcome = m.outcome, conflict = m.conflict, undone_by = $2, undone_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS m(seq int8, outcome text, conflict jsonb)
       WHERE a.seq = m.seq`,
      [
        JSON.stringify(
          outcomes.map((o) => ({ seq: o.seq, outcome: o.outcome, conflict: o.current })),
        ),
        by,
      ],
    );
  }
}
