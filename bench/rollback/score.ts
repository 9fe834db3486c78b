import type { HumanEdit, ItemRow } from "./human.js";
import type { RawDb } from "./rawDb.js";

export type Table = Map<number, ItemRow>;

/** A row image (from the table or the audit, JSON on both engines) as the bench compares it. */
export function itemRow(image: Record<string, unknown>): ItemRow {
  return {
    id: Number(image.id),
    owner: Number(image.owner),
    name: String(image.name),
    qty: Number(image.qty),
    note: typeof image.note === "string" ? image.note : null,
  };
}

export async function readTable(raw: RawDb): Promise<Table> {
  const rows = await raw.all<Record<string, unknown>>(
    "SELECT id, owner, name, qty, note FROM items",
  );
  return new Map(rows.map((r) => [Number(r.id), itemRow(r)]));
}

/** The table had no agent run: the initial rows with only the people's edits applied, in order. */
export function groundTruth(initial: Table, edits: readonly HumanEdit[]): Table {
  const t = new Map([...initial].map(([id, r]) => [id, { ...r }]));
  for (const e of edits) {
    if (e.op === "insert") t.set(e.row.id, { ...e.row });
    else if (e.op === "delete") t.delete(e.id);
    else {
      const row = t.get(e.id);
      if (row) t.set(e.id, { ...row, name: e.name, qty: e.qty, note: e.note });
    }
  }
  return t;
}

const same = (a: ItemRow | undefined, b: ItemRow | undefined) =>
  JSON.stringify(a) === JSON.stringify(b);

/** Rows (by id) that differ between two tables: missing, extra or changed. */
export function tableDiff(a: Table, b: Table): number {
  const ids = new Set([...a.keys(), ...b.keys()]);
  return [...ids].filter((id) => !same(a.get(id), b.get(id))).length;
}

/** Rows whose last edit by hand is not what the table holds now. */
export function editsOverwritten(actual: Table, truth: Table, edits: readonly HumanEdit[]): number {
  const touched = new Set(edits.map((e) => (e.op === "insert" ? e.row.id : e.id)));
  return [...touched].filter((id) => !same(actual.get(id), truth.get(id))).length;
}

/** One audited change, as a naive rollback replays it. */
export interface Change {
  key: number;
  op: "INSERT" | "UPDATE" | "DELETE";
  before: ItemRow | null;
}

/**
 * The baseline: put every before-image back, latest first, without looking
 * at what the row is now (what reversing the agent's statements does).
 */
export function naiveRollback(current: Table, changes: readonly Change[]): Table {
  const t = new Map(current);
  for (const c of changes) {
    if (c.op === "INSERT" || !c.before) t.delete(c.key);
    else t.set(c.before.id, c.before);
  }
  return t;
}
