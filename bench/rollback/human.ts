import type { Rng } from "../../src/core/rng.js";
import type { RawDb } from "./rawDb.js";

/** One row as the bench compares it. */
export interface ItemRow {
  id: number;
  owner: number;
  name: string;
  qty: number;
  note: string | null;
}

/** An edit a person made by hand that took effect (one that found no row is not one). */
export type HumanEdit =
  | { op: "update"; id: number; name: string; qty: number; note: string }
  | { op: "insert"; row: ItemRow }
  | { op: "delete"; id: number };

/** Ids of rows people add: no agent uses them. */
const HUMAN_IDS = 900_000;

/**
 * A person editing the table while the agents work, through a plain
 * connection (not the SQL tool): whole-row edits of existing rows (as a
 * form saves them), new rows, deletions. Only edits that changed a row are
 * kept: an edit of a row already gone did not happen. It makes at least
 * `min` edits, going on after the agents if they finish first (as a person
 * does before anyone rolls back): fast agents must not leave the rollback
 * nothing to conflict with.
 */
export async function editByHand(
  raw: RawDb,
  rng: Rng,
  rows: number,
  done: () => boolean,
  max: number,
  min = Math.ceil(rows / 4),
): Promise<HumanEdit[]> {
  const p = raw.param;
  const edits: HumanEdit[] = [];
  let added = 0;
  while ((!done() || edits.length < min) && edits.length < max) {
    const roll = rng.next();
    const id = rng.int(1, rows);
    if (roll < 0.7) {
      const edit = {
        op: "update" as const,
        id,
        name: `edited by hand ${edits.length}`,
        qty: rng.int(0, 99),
        note: "by hand",
      };
      const n = await raw.run(
        `UPDATE items SET name = ${p(1)}, qty = ${p(2)}, note = ${p(3)} WHERE id = ${p(4)}`,
        [edit.name, edit.qty, edit.note, id],
      );
      if (n === 1) edits.push(edit);
    } else if (roll < 0.85) {
      const row: ItemRow = {
        id: HUMAN_IDS + added++,
        owner: 0,
        name: "added by hand",
        qty: rng.int(0, 99),
        note: null,
      };
      await raw.run(
        `INSERT INTO items (id, owner, name, qty, note) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`,
        [row.id, row.owner, row.name, row.qty, row.note],
      );
      edits.push({ op: "insert", row });
    } else if ((await raw.run(`DELETE FROM items WHERE id = ${p(1)}`, [id])) === 1)
      edits.push({ op: "delete", id });
    await new Promise((r) => setTimeout(r, rng.int(1, 6)));
  }
  return edits;
}
