import { createRng } from "../../src/core/rng.js";
import { isFlotillaError, type RunContext } from "../../src/index.js";
import { editByHand, type HumanEdit } from "./human.js";
import { denyEverything } from "./operator.js";
import { ownerOf, planAgents, type AgentPlan, type Shape } from "./plan.js";
import {
  editsOverwritten,
  groundTruth,
  itemRow,
  naiveRollback,
  readTable,
  tableDiff,
  type Change,
} from "./score.js";
import { sqlWorld, type Engine, type SqlWorld } from "./world.js";

export { rollbackReport } from "./report.js";

export interface RollbackBenchOptions {
  seed: number;
  /** 4 agents of 12 statements on 120 rows instead of 12 of 30 on 1,200. */
  quick?: boolean;
  /** A database for the PostgreSQL half (the bench's own, fresh); without it, SQLite only. */
  postgresUrl?: string;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** What one engine's half measured. */
export interface EngineFigures {
  agents: number;
  statements: number;
  humanEdits: number;
  destructiveAttempted: number;
  destructiveBlocked: number;
  rowsWrittenByAgents: number;
  rowsRestored: number;
  conflictsReported: number;
  humanEditsOverwritten: number;
  tableDiffAfterRollback: number;
  /** Putting the before-images back blindly, as reversing the statements would. */
  naiveRollback: { humanEditsOverwritten: number; tableDiffAfterRollback: number };
  agentsMs: number;
  rollbackMs: number;
}

interface AgentTally {
  attempted: number;
  blocked: number;
  ran: number;
  failed: string[];
}

const ROW_LIMIT = 5;

async function seedTable(w: SqlWorld, rows: number, agents: number): Promise<void> {
  await w.raw.run(
    "CREATE TABLE items (id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, name TEXT NOT NULL, qty INTEGER NOT NULL, note TEXT)",
  );
  const p = w.p;
  for (let from = 1; from <= rows; from += 100) {
    const ids = Array.from({ length: Math.min(100, rows - from + 1) }, (_, i) => from + i);
    const values = ids.map(
      (_, i) => `(${p(4 * i + 1)}, ${p(4 * i + 2)}, ${p(4 * i + 3)}, ${p(4 * i + 4)}, NULL)`,
    );
    await w.raw.run(
      `INSERT INTO items (id, owner, name, qty, note) VALUES ${values.join(", ")}`,
      ids.flatMap((id) => [id, ownerOf(id, agents), `item ${id}`, id % 50]),
    );
  }
}

async function measure(
  engine: Engine,
  shape: Shape,
  seed: number,
  postgresUrl: string | undefined,
  tick: (label: string) => void,
): Promise<EngineFigures> {
  const rng = createRng(seed);
  const w = await sqlWorld(engine, postgresUrl ? { postgresUrl } : {});
  try {
    await seedTable(w, shape.rows, shape.agents);
    const initial = await readTable(w.raw);
    const ask = w.tool("inv", { rowLimit: ROW_LIMIT, sideChannels: ["search index"] });
    const strict = w.tool("inv-strict", { rowLimit: ROW_LIMIT, destructive: "refuse" });
    await ask.guard(["items"]);
    const agent = w.f.agent("bench.rollback.agent", async (ctx: RunContext, plan: AgentPlan) => {
      const tool = plan.strict ? strict : ask;
      const tally: AgentTally = { attempted: 0, blocked: 0, ran: 0, failed: [] };
      for (const st of plan.statements) {
        if (st.destructive) tally.attempted++;
        try {
          await tool.query(ctx, st.sql, st.params);
          if (st.destructive) tally.ran++;
        } catch (err) {
          const stopped =
            isFlotillaError(err, "FLOTILLA_APPROVAL_DENIED") ||
            isFlotillaError(err, "FLOTILLA_SQL_REFUSED");
          if (st.destructive && stopped) tally.blocked++;
          else tally.failed.push(isFlotillaError(err) ? err.code : String(err));
        }
      }
      return tally;
    });

    const plans = planAgents(rng, shape);
    const started = Date.now();
    const handles = await Promise.all(plans.map((plan) => w.f.start(agent, plan)));
    const ids = handles.map((h) => h.id);
    let agentsDone = false;
    const human = editByHand(w.raw, rng, shape.rows, () => agentsDone, shape.rows);
    const operator = denyEverything(
      w.f,
      () => ids,
      ["inv.preview", "inv-strict.preview"],
      () => agentsDone,
    );
    const tallies: AgentTally[] = [];
    try {
      for (const h of handles) {
        tallies.push(await h.result({ timeoutMs: 300_000 }));
        tick(`${engine}: agents`);
      }
    } finally {
      agentsDone = true;
    }
    const edits: HumanEdit[] = await human;
    await operator;
    const agentsMs = Date.now() - started;
    const failed = tallies.flatMap((t) => t.failed);
    if (failed.length > 0)
      throw new Error(`agents' statements failed unexpectedly: ${failed.join(", ")}`);

    const truth = groundTruth(initial, edits);
    const audit = await w.raw.all<{
      run_id: string;
      op: Change["op"];
      pk: unknown;
      before: unknown;
    }>(
      `SELECT run_id, op, pk, before FROM flotilla_audit WHERE run_id IS NOT NULL ORDER BY seq DESC`,
    );
    const image = (v: unknown) =>
      (typeof v === "string" ? JSON.parse(v) : v) as Record<string, unknown> | null;
    const changes: Change[] = audit.map((a) => ({
      key: Number(image(a.pk)?.id),
      op: a.op,
      before: image(a.before) ? itemRow(image(a.before) as Record<string, unknown>) : null,
    }));
    const naive = naiveRollback(await readTable(w.raw), changes);

    const rolling = Date.now();
    let restored = 0;
    let conflicts = 0;
    for (const id of ids) {
      const report = await w.f.rollback(id);
      restored += report.counts.restored;
      conflicts += report.counts.conflicts;
      tick(`${engine}: rollbacks`);
    }
    const rollbackMs = Date.now() - rolling;
    const after = await readTable(w.raw);
    return {
      agents: shape.agents,
      statements: shape.agents * shape.statements,
      humanEdits: edits.length,
      destructiveAttempted: tallies.reduce((n, t) => n + t.attempted, 0),
      destructiveBlocked: tallies.reduce((n, t) => n + t.blocked, 0),
      rowsWrittenByAgents: changes.length,
      rowsRestored: restored,
      conflictsReported: conflicts,
      humanEditsOverwritten: editsOverwritten(after, truth, edits),
      tableDiffAfterRollback: tableDiff(after, truth),
      naiveRollback: {
        humanEditsOverwritten: editsOverwritten(naive, truth, edits),
        tableDiffAfterRollback: tableDiff(naive, truth),
      },
      agentsMs,
      rollbackMs,
    };
  } finally {
    await w.done();
  }
}

/**
 * Agents (real Flotilla runs using the SQL tool) write to a table while a
 * person edits some of the same rows by hand; a share of their statements
 * are destructive, and the operator approves none. Then each agent run is
 * rolled back, and the table is compared with the ground truth: the
 * initial rows with only the person's edits applied.
 */
export async function rollbackBench(o: RollbackBenchOptions): Promise<Record<string, unknown>> {
  const size = o.quick
    ? { rows: 120, agents: 4, statements: 12 }
    : { rows: 1_200, agents: 12, statements: 30 };
  const engines: Engine[] = o.postgresUrl ? ["postgres", "sqlite"] : ["sqlite"];
  const total = engines.length * size.agents * 2;
  let done = 0;
  const tick = (label: string) => o.onProgress?.(++done, total, label);
  const result: Record<string, unknown> = { seed: o.seed, rowLimit: ROW_LIMIT };
  for (const engine of engines)
    result[engine] = await measure(
      engine,
      { engine, ...size, rowLimit: ROW_LIMIT, destructiveShare: 0.15 },
      o.seed,
      engine === "postgres" ? o.postgresUrl : undefined,
      tick,
    );
  return result;
}
