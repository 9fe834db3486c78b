import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { sqlWorld, type Engine, type SqlWorld } from "../bench/rollback/world.js";
import { postgresRaw } from "../bench/rollback/rawDb.js";
import { postgresSkipReason } from "../bench/support/postgres.js";
import type { RollbackReport } from "../src/index.js";
import { cli, cliArgs } from "./helpers/cli.js";

const pgSkip = await postgresSkipReason();

const ROWS = 600;

interface Item {
  id: number;
  name: string;
  qty: number;
}

async function world(engine: Engine): Promise<SqlWorld> {
  const w = await sqlWorld(engine);
  await w.raw.run(
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL)",
  );
  await w.raw.run(
    engine === "postgres"
      ? `INSERT INTO items SELECT i, 'item' || i, i FROM generate_series(1, ${ROWS}) AS i`
      : `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS})
         INSERT INTO items SELECT i, 'item' || i, i FROM n`,
  );
  return w;
}

const items = async (w: SqlWorld): Promise<Item[]> =>
  (await w.raw.all<Item>("SELECT id, name, qty FROM items ORDER BY id")).map((r) => ({
    id: Number(r.id),
    name: r.name,
    qty: Number(r.qty),
  }));

/**
 * A run that changes 900 rows in three statements, then two rows edited by
 * hand (row 10 changed once by the run, row 250 twice: three conflicts).
 * Resolves to the run and the table a correct rollback leaves.
 */
async function bigRun(w: SqlWorld): Promise<{ runId: string; expected: Item[] }> {
  const before = await items(w);
  const db = w.tool("inv", { rowLimit: 100_000 });
  await db.guard(["items"]);
  const agent = w.f.agent("big", async (ctx) => {
    await db.query(ctx, "UPDATE items SET qty = qty + 1 WHERE id <= 400");
    await db.query(ctx, "UPDATE items SET name = 'renamed' WHERE id > 200");
    await db.query(ctx, "DELETE FROM items WHERE id > 500");
    return "done";
  });
  const run = await w.f.start(agent, null);
  await run.result({ timeoutMs: 30_000 });
  const hand = `UPDATE items SET name = ${w.p(1)}, qty = ${w.p(2)} WHERE id = ${w.p(3)}`;
  await w.raw.run(hand, ["by hand", 0, 10]);
  await w.raw.run(hand, ["by hand", 0, 250]);
  const expected = before.map((r) =>
    r.id === 10 || r.id === 250 ? { ...r, name: "by hand", qty: 0 } : r,
  );
  return { runId: run.id, expected };
}

/** `flotilla rollback` in a process of its own. */
function rollbackProcess(w: SqlWorld, runId: string, batch: number) {
  const child = spawn(
    process.execPath,
    [
      ...cliArgs,
      "rollback",
      runId,
      "--store",
      w.journal,
      "--sql",
      w.url,
      "--batch",
      String(batch),
      "--json",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; out: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, out })),
  );
  return { child, exited };
}

const restoredSoFar = async (w: SqlWorld) =>
  Number(
    (
      await w.raw.all<{ n: number }>(
        "SELECT count(*) AS n FROM flotilla_audit WHERE outcome = 'restored'",
      )
    )[0]?.n,
  );

/** Checks the end state: the table as it should be, every row restored once, three conflicts. */
async function checkResumed(w: SqlWorld, runId: string, expected: Item[], report: RollbackReport) {
  assert.equal(report.counts.rowsWritten, 900);
  assert.equal(
    report.counts.conflicts,
    3,
    "only the hand edits conflict: no row was restored twice",
  );
  assert.equal(report.counts.restored, 897);
  assert.deepEqual(await items(w), expected);
  const own = await w.raw.all<{ n: number }>(
    `SELECT count(*) AS n FROM flotilla_audit WHERE run_id IS NULL AND step LIKE ${w.p(1)}`,
    [`rollback:${runId}#%`],
  );
  assert.equal(Number(own[0]?.n), 897, "each restore was one write, made once");
}

for (const engine of ["sqlite", "postgres"] as const) {
  describe(
    `flotilla rollback (CLI) on ${engine}`,
    { skip: engine === "postgres" ? pgSkip : undefined },
    () => {
      it("a rollback killed at random points and run again restores every row once", async () => {
        const w = await world(engine);
        try {
          const { runId, expected } = await bigRun(w);
          const kills: number[] = [];
          for (const threshold of [40, 300, 700]) {
            const { child, exited } = rollbackProcess(w, runId, 5);
            const deadline = Date.now() + 60_000;
            let done = false;
            void exited.then(() => (done = true));
            while (!done && (await restoredSoFar(w)) < threshold && Date.now() < deadline)
              await new Promise((r) => setTimeout(r, 2));
            child.kill("SIGKILL");
            await exited;
            kills.push(await restoredSoFar(w));
          }
          process.stdout.write(
            `# ${engine}: killed with ${kills.join(", ")} of 897 rows restored\n`,
          );
          assert.ok(
            kills.some((n) => n > 0 && n < 897),
            `at least one kill mid-rollback (${kills.join(", ")})`,
          );
          const last = rollbackProcess(w, runId, 5);
          const { code, out } = await last.exited;
          assert.equal(code, 1, "conflicts left: exit 1");
          await checkResumed(w, runId, expected, JSON.parse(out) as RollbackReport);
        } finally {
          await w.done();
        }
      });
    },
  );
}

describe(
  "flotilla rollback (CLI) on postgres, killed inside a batch's transaction",
  { skip: pgSkip },
  () => {
    it("the batch it was in is rolled back by the server, and redone by the next rollback", async () => {
      const w = await world("postgres");
      try {
        const { runId, expected } = await bigRun(w);
        // The 102nd change the rollback undoes (latest first) is the first it makes to its row: held
        // by another transaction, that row stops the rollback inside its 21st batch of 5.
        const order = await w.raw.all<{ pk: { id: number } }>(
          "SELECT pk FROM flotilla_audit WHERE run_id = $1 ORDER BY seq DESC LIMIT 102",
          [runId],
        );
        const held = order[101]?.pk.id;
        assert.ok(
          held !== undefined && order.slice(0, 101).every((e) => e.pk.id !== held),
          "the rollback reaches that row first at that change",
        );
        const holder = await postgresRaw(w.url);
        await holder.run("BEGIN");
        await holder.run("SELECT * FROM items WHERE id = $1 FOR UPDATE", [held]);
        const { child, exited } = rollbackProcess(w, runId, 5);
        const deadline = Date.now() + 60_000;
        const waiting = async () =>
          Number(
            (
              await w.raw.all<{ n: number }>(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
              )
            )[0]?.n,
          );
        while ((await waiting()) === 0 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 5));
        const committed = await restoredSoFar(w);
        child.kill("SIGKILL");
        await exited;
        await holder.run("ROLLBACK");
        await holder.close();
        assert.equal(committed, 100, "twenty whole batches, nothing of the one cut short");
        assert.equal(await restoredSoFar(w), committed, "the batch cut short left nothing behind");
        const { code, out } = await rollbackProcess(w, runId, 5).exited;
        assert.equal(code, 1);
        await checkResumed(w, runId, expected, JSON.parse(out) as RollbackReport);
      } finally {
        await w.done();
      }
    });
  },
);

describe("flotilla sql guard and flotilla rollback (CLI)", () => {
  it("prints what it guarded and the rollback's plan and report; bad input gets one line and an exit code", async () => {
    const w = await sqlWorld("sqlite");
    try {
      await w.raw.run(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL)",
      );
      await w.raw.run("INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)");
      await w.raw.run("CREATE TABLE loose (x INTEGER)");
      const guarded = cli("sql", "guard", w.url, "items", "--json");
      assert.equal(guarded.code, 0, guarded.stderr);
      assert.deepEqual(JSON.parse(guarded.stdout), {
        guarded: [{ table: "items", primaryKey: ["id"], columns: ["id", "name", "qty"] }],
      });
      for (const [args, pattern] of [
        [["sql", "guard", w.url, "loose"], /no primary key/],
        [["sql", "guard", w.url, "nowhere"], /table nowhere does not exist/],
        [["sql", "guard", "redis://x", "items"], /unsupported database URL/],
      ] as const) {
        const r = cli(...args);
        assert.equal(r.code, 1);
        assert.match(r.stderr, pattern);
        assert.equal(r.stderr.trim().split("\n").length, 1, "one line");
      }
      const db = w.tool("inv");
      const agent = w.f.agent("cli", async (ctx) => {
        await db.query(ctx, "UPDATE items SET qty = 10 WHERE id = ?", [1]);
        await db.query(ctx, "UPDATE items SET qty = 20 WHERE id = ?", [2]);
        return "done";
      });
      const run = await w.f.start(agent, null);
      await run.result({ timeoutMs: 20_000 });
      await w.raw.run("UPDATE items SET name = 'by hand' WHERE id = 2");
      const plan = cli(
        "rollback",
        run.id,
        "--store",
        w.journal,
        "--sql",
        w.url,
        "--plan",
        "--json",
      );
      assert.equal(plan.code, 0, plan.stderr);
      const planned = JSON.parse(plan.stdout) as RollbackReport;
      assert.equal(planned.plan, true);
      assert.deepEqual(planned.counts, {
        rowsWritten: 2,
        restored: 1,
        alreadyRestored: 0,
        conflicts: 1,
      });
      const text = cli("rollback", run.id, "--store", w.journal, "--sql", w.url);
      assert.equal(text.code, 1, "a conflict is left: not a success");
      assert.match(text.stdout, /2 row change\(s\), restored 1, 1 conflict/);
      assert.match(
        text.stdout,
        /items \{"id":2\}.*the row was changed since, last by outside any run/,
      );
      assert.match(text.stdout, /the run left: \{"id":2,"name":"b","qty":20\}/);
      assert.match(text.stdout, /now: +\{"id":2,"name":"by hand","qty":20\}/);
      for (const [args, pattern, code] of [
        [["rollback", run.id, "--store", w.journal], /required option '--sql/, 2],
        [
          ["rollback", "nope", "--store", w.journal, "--sql", w.url],
          /run 'nope' does not exist/,
          1,
        ],
        [
          ["rollback", run.id, "--store", w.journal, "--sql", w.url, "--batch", "0"],
          /--batch must be a positive integer/,
          1,
        ],
      ] as const) {
        const r = cli(...args);
        assert.equal(r.code, code, r.stderr);
        assert.match(r.stderr, pattern);
      }
    } finally {
      await w.done();
    }
  });
});
