import { sqlWorld, type Engine, type SqlWorld } from "../../bench/rollback/world.js";

export interface Item {
  id: number;
  name: string;
  qty: number;
}

/** A guarded-database world whose `items` table holds rows 1..10 (`initial()`). */
export async function itemsWorld(engine: Engine): Promise<SqlWorld> {
  const w = await sqlWorld(engine);
  await w.raw.run(
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL)",
  );
  for (let i = 1; i <= 10; i++)
    await w.raw.run(`INSERT INTO items VALUES (${w.p(1)}, ${w.p(2)}, ${w.p(3)})`, [
      i,
      `item${i}`,
      i,
    ]);
  return w;
}

/** The rows `itemsWorld` starts with. */
export const initial = (): Item[] =>
  Array.from({ length: 10 }, (_, i) => ({ id: i + 1, name: `item${i + 1}`, qty: i + 1 }));

/** The items table now, by id. */
export const items = async (w: SqlWorld): Promise<Item[]> =>
  (await w.raw.all<Item>("SELECT id, name, qty FROM items ORDER BY id")).map((r) => ({
    id: Number(r.id),
    name: r.name,
    qty: Number(r.qty),
  }));

/** Statements on items with this engine's placeholders. */
export function itemStatements(w: SqlWorld) {
  const { p } = w;
  return {
    setQty: `UPDATE items SET qty = ${p(1)} WHERE id = ${p(2)}`,
    addQty: `UPDATE items SET qty = qty + ${p(1)} WHERE id = ${p(2)}`,
    rename: `UPDATE items SET name = ${p(1)} WHERE id = ${p(2)}`,
    insert: `INSERT INTO items VALUES (${p(1)}, ${p(2)}, ${p(3)})`,
    remove: `DELETE FROM items WHERE id = ${p(1)}`,
  };
}
