import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SqlWorld } from "../bench/rollback/world.js";
import { postgresSkipReason } from "../bench/support/postgres.js";
import { isFlotillaError, type RunContext, type SqlTool } from "../src/index.js";
import { initial, items, itemStatements, itemsWorld, type Item } from "./helpers/sqlItems.js";

const pgSkip = await postgresSkipReason();

const row = (list: Item[], id: number) => list.find((r) => r.id === id);

/** Edits a whole row by hand, as a person saving a form would. */
const byHand = (w: SqlWorld, id: number, name: string, qty: number) =>
  w.raw.run(`UPDATE items SET name = ${w.p(1)}, qty = ${w.p(2)} WHERE id = ${w.p(3)}`, [
    name,
    qty,
    id,
  ]);

async function mixedRun(w: SqlWorld, db: SqlTool, name: string): Promise<string> {
  const s = itemStatements(w);
  const agent = w.f.agent(name, async (ctx) => {
    await db.query(ctx, s.addQty, [100, 1]);
    await db.query(ctx, s.rename, ["agent", 3]);
    await db.query(ctx, s.insert, [11, "new", 0]);
    await db.query(ctx, s.remove, [2]);
    return "done";
  });
  const run = await w.f.start(agent, null);
  await run.result({ timeoutMs: 20_000 });
  return run.id;
}

for (const engine of ["sqlite", "postgres"] as const) {
  describe(
    `flotilla.rollback on ${engine}`,
    { skip: engine === "postgres" ? pgSkip : undefined },
    () => {
      it("restores inserts, updates and deletes; a row edited by hand since is reported, not overwritten", async () => {
        const w = await itemsWorld(engine);
        try {
          const db = w.tool("inv");
          await db.guard(["items"]);
          const runId = await mixedRun(w, db, "mixed");
          await byHand(w, 1, "edited by hand", 101);
          await byHand(w, 4, "untouched by the run", 4);
          const report = await w.f.rollback(runId);
          assert.deepEqual(report.counts, {
            rowsWritten: 4,
            restored: 3,
            alreadyRestored: 0,
            conflicts: 1,
          });
          assert.equal(report.complete, false);
          assert.deepEqual(
            report.restored.map((r) => [r.action, r.key]),
            [
              ["reinsert", { id: 2 }],
              ["remove", { id: 11 }],
              ["revert", { id: 3 }],
            ],
            "latest first",
          );
          const [conflict] = report.conflicts;
          assert.equal(conflict?.action, "revert");
          assert.deepEqual(conflict?.key, { id: 1 });
          assert.deepEqual(conflict?.runVersion, { id: 1, name: "item1", qty: 101 });
          assert.deepEqual(conflict?.currentVersion, { id: 1, name: "edited by hand", qty: 101 });
          assert.equal(conflict?.changedBy?.runId, null, "changed outside any run");
          const now = await items(w);
          assert.deepEqual(
            row(now, 1),
            { id: 1, name: "edited by hand", qty: 101 },
            "the edit is kept",
          );
          assert.deepEqual(row(now, 4), { id: 4, name: "untouched by the run", qty: 4 });
          assert.deepEqual(
            now.filter((r) => r.id !== 1 && r.id !== 4),
            initial().filter((r) => r.id !== 1 && r.id !== 4),
            "every other row is as before the run",
          );
        } finally {
          await w.done();
        }
      });

      it("a plan changes nothing; a repeat redoes nothing; a conflict settled since is restored", async () => {
        const w = await itemsWorld(engine);
        try {
          const db = w.tool("inv");
          await db.guard(["items"]);
          const runId = await mixedRun(w, db, "again");
          await byHand(w, 1, "edited by hand", 101);
          const before = await items(w);
          const plan = await w.f.rollback(runId, { plan: true });
          assert.equal(plan.plan, true);
          assert.deepEqual(plan.counts, {
            rowsWritten: 4,
            restored: 3,
            alreadyRestored: 0,
            conflicts: 1,
          });
          assert.deepEqual(await items(w), before, "the plan changed nothing");
          const first = await w.f.rollback(runId);
          const after = await items(w);
          const second = await w.f.rollback(runId);
          assert.deepEqual(second.counts, {
            rowsWritten: 4,
            restored: 3,
            alreadyRestored: 3,
            conflicts: 1,
          });
          assert.deepEqual(
            second.restored.map((r) => r.seq),
            first.restored.map((r) => r.seq),
          );
          assert.deepEqual(await items(w), after, "the repeat changed nothing");
          // The person puts the row back as the run left it: now it is the run's to undo.
          await byHand(w, 1, "item1", 101);
          const third = await w.f.rollback(runId);
          assert.equal(third.complete, true);
          assert.deepEqual(third.counts, {
            rowsWritten: 4,
            restored: 4,
            alreadyRestored: 3,
            conflicts: 0,
          });
          assert.deepEqual(await items(w), initial());
          // Each rollback that changed something (not the plan) is in the run's own journal.
          const journaled = (await w.f.store.readJournal(runId))
            .filter((e) => e.type === "sql.rolled-back")
            .map((e) => (e.data as { restored: number; conflicts: number }).conflicts);
          assert.deepEqual(journaled, [1, 1, 0]);
        } finally {
          await w.done();
        }
      });

      it("a run's changes to one row unwind in turn, and stop at a change someone made in between", async () => {
        const w = await itemsWorld(engine);
        try {
          const db = w.tool("inv");
          await db.guard(["items"]);
          const s = itemStatements(w);
          const agent = w.f.agent("chain", async (ctx) => {
            await db.query(ctx, s.setQty, [50, 5]);
            await db.query(ctx, s.setQty, [60, 6]);
            await ctx.waitFor("go");
            await db.query(ctx, s.addQty, [1, 5]);
            await db.query(ctx, s.addQty, [1, 6]);
            return "done";
          });
          const run = await w.f.start(agent, null);
          const deadline = Date.now() + 20_000;
          while ((await w.f.getRun(run.id)).status !== "waiting" && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 10));
          await byHand(w, 5, "renamed between the run's writes", 50);
          await run.signal("go", null);
          await run.result({ timeoutMs: 20_000 });
          // One change per transaction: the order of the transactions is the order of the changes.
          const report = await w.f.rollback(run.id, { batchSize: 1 });
          assert.deepEqual(report.counts, {
            rowsWritten: 4,
            restored: 3,
            alreadyRestored: 0,
            conflicts: 1,
          });
          const now = await items(w);
          assert.deepEqual(row(now, 6), { id: 6, name: "item6", qty: 6 }, "both changes undone");
          assert.deepEqual(
            row(now, 5),
            { id: 5, name: "renamed between the run's writes", qty: 50 },
            "the later change undone, back to the hand edit; the earlier one kept under it",
          );
          assert.deepEqual(report.conflicts[0]?.runVersion, { id: 5, name: "item5", qty: 50 });
        } finally {
          await w.done();
        }
      });

      it("two rollbacks of one run at once restore each row once", async () => {
        const w = await itemsWorld(engine);
        try {
          const db = w.tool("inv");
          await db.guard(["items"]);
          const runId = await mixedRun(w, db, "twice");
          const [a, b] = await Promise.all([
            w.f.rollback(runId, { batchSize: 1 }),
            w.f.rollback(runId, { batchSize: 1 }),
          ]);
          for (const r of [a, b]) {
            assert.equal(r.complete, true);
            assert.deepEqual(
              r.conflicts,
              [],
              "neither took the other's restores for changes since",
            );
          }
          assert.deepEqual(await items(w), initial());
        } finally {
          await w.done();
        }
      });

      it("a child run's writes are rolled back with its parent's; a run not ended or unknown is refused", async () => {
        const w = await itemsWorld(engine);
        try {
          const db = w.tool("inv");
          await db.guard(["items"]);
          const s = itemStatements(w);
          const child = w.f.agent("child", async (ctx, id: number) => {
            await db.query(ctx, s.rename, ["by the child", id]);
            return id;
          });
          const parent = w.f.agent("parent", async (ctx) => {
            await db.query(ctx, s.rename, ["by the parent", 7]);
            await ctx.spawn(child, 8);
            return "done";
          });
          const run = await w.f.start(parent, null);
          await run.result({ timeoutMs: 20_000 });
          const report = await w.f.rollback(run.id);
          assert.equal(report.runs.length, 2);
          assert.deepEqual(report.counts, {
            rowsWritten: 2,
            restored: 2,
            alreadyRestored: 0,
            conflicts: 0,
          });
          assert.deepEqual(await items(w), initial());

          const waiting = w.f.agent("waiting", async (ctx: RunContext) => {
            await db.query(ctx, s.rename, ["not yet", 9]);
            return ctx.waitFor("never");
          });
          const busy = await w.f.start(waiting, null);
          const deadline = Date.now() + 20_000;
          while ((await w.f.getRun(busy.id)).status !== "waiting" && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 10));
          for (const [id, code] of [
            [busy.id, "FLOTILLA_INVALID_ARGUMENT"],
            ["no-such-run", "FLOTILLA_NOT_FOUND"],
          ] as const) {
            try {
              await w.f.rollback(id);
              assert.fail(`rolled back ${id}`);
            } catch (err) {
              assert.ok(isFlotillaError(err, code), String(err));
            }
          }
          assert.equal(
            row(await items(w), 9)?.name,
            "not yet",
            "nothing of a live run was touched",
          );
          for (const bad of [{ batchSize: 0 }, { plan: "yes" }, { store: "redis://x" }])
            await assert.rejects(
              () => w.f.rollback(run.id, bad as never),
              (err) => isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT"),
            );
        } finally {
          await w.done();
        }
      });

      it("run.undo() undoes each SQL write as its inverse; a conflicting row fails its inverse and is kept", async () => {
        const w = await itemsWorld(engine);
        try {
          const db = w.tool("inv");
          await db.guard(["items"]);
          const s = itemStatements(w);
          const agent = w.f.agent("undone", async (ctx) => {
            await db.query(ctx, s.insert, [11, "new", 0]);
            await db.query(ctx, s.addQty, [100, 1]);
            await db.query(ctx, s.addQty, [100, 2]);
            return "done";
          });
          const run = await w.f.start(agent, null);
          await run.result({ timeoutMs: 20_000 });
          await byHand(w, 2, "edited by hand", 102);
          const report = await run.undo({ timeoutMs: 30_000 });
          assert.equal(report.complete, false);
          const outcomes = report.effects.map((e) => [e.outcome, e.error?.code ?? null]).sort();
          assert.deepEqual(outcomes, [
            ["compensation-failed", "FLOTILLA_SQL_ROLLBACK_CONFLICT"],
            ["undone", null],
            ["undone", null],
          ]);
          const now = await items(w);
          assert.deepEqual(row(now, 2), { id: 2, name: "edited by hand", qty: 102 });
          assert.deepEqual(row(now, 1), { id: 1, name: "item1", qty: 1 });
          assert.equal(row(now, 11), undefined);
          // The same rows seen by a data rollback: done, but for the one kept.
          const rollback = await w.f.rollback(run.id);
          assert.deepEqual(rollback.counts, {
            rowsWritten: 3,
            restored: 2,
            alreadyRestored: 2,
            conflicts: 1,
          });
        } finally {
          await w.done();
        }
      });

      it("lists the side channels the tool declared; a restore that would cascade to other rows is refused", async () => {
        const w = await itemsWorld(engine);
        try {
          await w.raw.run(
            engine === "postgres"
              ? "CREATE TABLE notes (id INTEGER PRIMARY KEY, item INTEGER REFERENCES items (id) ON DELETE CASCADE, body TEXT)"
              : "CREATE TABLE notes (id INTEGER PRIMARY KEY, item INTEGER, body TEXT)",
          );
          if (engine === "sqlite")
            await w.raw.run(
              "CREATE TRIGGER items_notes AFTER DELETE ON items BEGIN DELETE FROM notes WHERE item = OLD.id; END",
            );
          const db = w.tool("inv", { sideChannels: ["search index", "webhook item.changed"] });
          await db.guard(["items", "notes"]);
          const s = itemStatements(w);
          const agent = w.f.agent("side", async (ctx) => {
            await db.query(ctx, s.insert, [20, "new", 1]);
            await db.query(ctx, s.rename, ["renamed", 1]);
            return "done";
          });
          const run = await w.f.start(agent, null);
          await run.result({ timeoutMs: 20_000 });
          await w.raw.run(`INSERT INTO notes VALUES (1, 20, 'a note by hand on the new item')`);
          const report = await w.f.rollback(run.id);
          assert.deepEqual(report.sideChannels, [
            { tool: "inv", channels: ["search index", "webhook item.changed"], statements: 2 },
          ]);
          assert.deepEqual(report.counts, {
            rowsWritten: 2,
            restored: 1,
            alreadyRestored: 0,
            conflicts: 1,
          });
          assert.match(report.conflicts[0]?.reason ?? "", /1 other row/);
          assert.equal(row(await items(w), 20)?.name, "new", "the row is kept…");
          const notes = await w.raw.all<{ n: number }>("SELECT count(*) AS n FROM notes");
          assert.equal(Number(notes[0]?.n), 1, "…and so is the note that depends on it");
          assert.equal(row(await items(w), 1)?.name, "item1");
        } finally {
          await w.done();
        }
      });
    },
  );
}
