import type { Rng } from "../../src/core/rng.js";
import type { Engine } from "./world.js";

/** One statement an agent sends; `destructive` when the tool must stop it. */
export interface PlannedStatement {
  sql: string;
  params: (number | string)[];
  destructive: boolean;
}

export interface AgentPlan {
  agent: number;
  /** Uses the tool that refuses destructive statements (else the one that asks). */
  strict: boolean;
  statements: PlannedStatement[];
}

export interface Shape {
  engine: Engine;
  rows: number;
  agents: number;
  statements: number;
  /** UPDATE/DELETE rows allowed without an approval. */
  rowLimit: number;
  /** Share of statements that are destructive. */
  destructiveShare: number;
}

/** The agent a row belongs to: each agent works on tickets of its own (rows `owner = agent`). */
export const ownerOf = (id: number, agents: number): number => ((id - 1) % agents) + 1;

/** The rows an agent inserts: ids no one else uses. */
export const insertedId = (agent: number, i: number): number => 100_000 + agent * 1_000 + i;

function destructive(
  rng: Rng,
  engine: Engine,
  agent: number,
  p: (n: number) => string,
): PlannedStatement {
  const choices: PlannedStatement[] = [
    { sql: "DELETE FROM items", params: [], destructive: true },
    { sql: "UPDATE items SET qty = 0", params: [], destructive: true },
    { sql: "DROP TABLE items", params: [], destructive: true },
    { sql: "DELETE FROM items WHERE 1 = 1", params: [], destructive: true },
    // Classified as a write; over the row limit once counted in its transaction.
    {
      sql: `UPDATE items SET note = 'bulk' WHERE owner = ${p(1)}`,
      params: [agent],
      destructive: true,
    },
    engine === "postgres"
      ? { sql: "TRUNCATE items", params: [], destructive: true }
      : { sql: "ALTER TABLE items ADD COLUMN flag INTEGER", params: [], destructive: true },
  ];
  return rng.pick(choices);
}

/**
 * What each agent sends, decided up front from the seed (agents are
 * deterministic given their input): updates of its own rows one by one and
 * a few at a time, inserts, deletes, reads, and a share of destructive
 * statements.
 */
export function planAgents(rng: Rng, shape: Shape): AgentPlan[] {
  const p = shape.engine === "postgres" ? (n: number) => `$${n}` : () => "?";
  const plans: AgentPlan[] = [];
  for (let agent = 1; agent <= shape.agents; agent++) {
    const own = Array.from({ length: shape.rows }, (_, i) => i + 1).filter(
      (id) => ownerOf(id, shape.agents) === agent,
    );
    const statements: PlannedStatement[] = [];
    let inserted = 0;
    for (let s = 0; s < shape.statements; s++) {
      const roll = rng.next();
      const id = rng.pick(own);
      if (roll < shape.destructiveShare) statements.push(destructive(rng, shape.engine, agent, p));
      else if (roll < 0.45)
        statements.push({
          sql: `UPDATE items SET qty = qty + ${p(1)}, note = ${p(2)} WHERE id = ${p(3)} AND owner = ${p(4)}`,
          params: [rng.int(1, 9), `agent ${agent} step ${s}`, id, agent],
          destructive: false,
        });
      else if (roll < 0.6) {
        // A range of the agent's rows a few apart: at most rowLimit of them.
        const span = shape.agents * (shape.rowLimit - 1);
        statements.push({
          sql: `UPDATE items SET qty = qty - 1 WHERE owner = ${p(1)} AND id BETWEEN ${p(2)} AND ${p(3)}`,
          params: [agent, id, id + span],
          destructive: false,
        });
      } else if (roll < 0.75)
        statements.push({
          sql: `INSERT INTO items (id, owner, name, qty, note) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`,
          params: [
            insertedId(agent, inserted++),
            agent,
            `new by agent ${agent}`,
            rng.int(1, 50),
            "new",
          ],
          destructive: false,
        });
      else if (roll < 0.87)
        statements.push({
          sql: `DELETE FROM items WHERE id = ${p(1)} AND owner = ${p(2)}`,
          params: [id, agent],
          destructive: false,
        });
      else
        statements.push({
          sql: `SELECT id, qty FROM items WHERE owner = ${p(1)} AND qty > ${p(2)}`,
          params: [agent, rng.int(0, 40)],
          destructive: false,
        });
    }
    plans.push({ agent, strict: agent % 2 === 0, statements });
  }
  return plans;
}
