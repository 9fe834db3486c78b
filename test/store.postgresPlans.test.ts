import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { PostgresStore } from "../src/store/postgres/PostgresStore.js";
import { CLAIM, JOURNALS_OF_CLAIMED } from "../src/store/postgres/workers.js";

/**
 * Statements every worker runs on every poll must not read whole tables:
 * their cost would grow with every run the store has ever held. Planned on
 * a store of 50,000 finished runs and 100,000 events, with statistics.
 */

const skip = await postgresSkipReason();

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}

/** "Seq Scan runs", … for every node of the plan that reads a table. */
function scans(node: PlanNode, out: string[] = []): string[] {
  if (node["Relation Name"]) out.push(`${node["Node Type"]} ${node["Relation Name"]}`);
  for (const child of node.Plans ?? []) scans(child, out);
  return out;
}

describe("PostgreSQL plans of the claim", skip ? { skip } : {}, () => {
  let db: { url: string; drop: () => Promise<void> };
  let client: pg.Client;
  before(async () => {
    db = await freshDatabase();
    await (await PostgresStore.open(db.url, { listen: false })).close();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(`INSERT INTO runs (id, agent, status, input, created_at, updated_at)
      SELECT 'done-' || g, 'a', 'completed', 'null'::jsonb, g, g FROM generate_series(1, 50000) g`);
    await client.query(`INSERT INTO runs (id, agent, status, input, created_at, updated_at)
      SELECT 'todo-' || g, 'a', 'pending', 'null'::jsonb, g, g FROM generate_series(1, 20) g`);
    await client.query(`INSERT INTO events (run_id, type, data, at)
      SELECT 'done-' || (g % 50000 + 1), 'step.completed', '{}'::jsonb, g
      FROM generate_series(1, 100000) g`);
    await client.query("ANALYZE");
  });
  after(async () => {
    await client?.end();
    await db?.drop();
  });

  const planOf = async (text: string, values: unknown[]): Promise<string[]> => {
    const { rows } = await client.query<{ "QUERY PLAN": { Plan: PlanNode }[] }>(
      `EXPLAIN (FORMAT JSON) ${text}`,
      values,
    );
    const plan = rows[0]?.["QUERY PLAN"][0]?.Plan;
    assert.ok(plan, "EXPLAIN returned a plan");
    return scans(plan);
  };
  const whole = (plan: string[]) =>
    plan.filter((s) => s === "Seq Scan runs" || s === "Seq Scan events");

  it("the claim finds claimable runs by index", async () => {
    const plan = await planOf(CLAIM, ["w", "token", 1000, ["a"], 8, "{}", []]);
    assert.deepEqual(whole(plan), [], plan.join(", "));
  });

  it("the journals of the claimed runs are read by index", async () => {
    const plan = await planOf(JOURNALS_OF_CLAIMED, ["token", "w", "{}"]);
    assert.deepEqual(whole(plan), [], plan.join(", "));
  });
});
