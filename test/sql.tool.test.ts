import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { SqlWorld } from "../bench/rollback/world.js";
import { postgresSkipReason } from "../bench/support/postgres.js";
import {
  isFlotillaError,
  type Flotilla,
  type JournalEvent,
  type SqlApprovalRequest,
} from "../src/index.js";
import { itemsWorld } from "./helpers/sqlItems.js";

const pgSkip = await postgresSkipReason();

type World = SqlWorld;

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const named = (journal: readonly JournalEvent[], type: string, name: string) =>
  journal.filter((e) => e.type === type && (e.data as { name?: unknown }).name === name);

/** The value journaled by the run's n-th approval request (the preview step). */
async function approvalRequest(
  f: Flotilla,
  runId: string,
  tool: string,
  n = 1,
): Promise<SqlApprovalRequest> {
  let found: JournalEvent[] = [];
  await until(`run ${runId} asks for approval ${n}`, async () => {
    found = named(await f.store.readJournal(runId), "step.completed", `${tool}.preview`);
    return found.length >= n && (await f.getRun(runId)).status === "waiting";
  });
  return (found[n - 1]?.data as unknown as { value: SqlApprovalRequest }).value;
}

/** Runs `fn` and answers its error's code (or "ok"). */
async function codeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return "ok";
  } catch (err) {
    return isFlotillaError(err) ? err.code : `untyped: ${String(err)}`;
  }
}

const count = async (w: World, where = "1 = 1") =>
  Number((await w.raw.all<{ n: number }>(`SELECT count(*) AS n FROM items WHERE ${where}`))[0]?.n);

for (const kind of ["sqlite", "postgres"] as const) {
  describe(`SQL tool on ${kind}`, { skip: kind === "postgres" ? pgSkip : undefined }, () => {
    it("reads are read steps; writes are compensable effects attributed to their run and step", async () => {
      const w = await itemsWorld(kind);
      try {
        const db = w.tool("inv");
        await db.guard(["items"]);
        const { p } = w;
        const agent = w.f.agent("attr", async (ctx) => [
          await db.query(ctx, `SELECT name, qty FROM items WHERE id = ${p(1)}`, [1]),
          await db.query(ctx, `UPDATE items SET qty = qty + 100 WHERE id = ${p(1)}`, [1]),
          await db.query(ctx, `INSERT INTO items VALUES (${p(1)}, ${p(2)}, ${p(3)})`, [
            11,
            "new",
            0,
          ]),
          await db.query(ctx, `DELETE FROM items WHERE id = ${p(1)}`, [2]),
        ]);
        const run = await w.f.start(agent, null);
        const [read, update, insert, del] = await run.result({ timeoutMs: 20_000 });
        assert.deepEqual(read, { class: "read", rows: [{ name: "item1", qty: 1 }], rowCount: 1 });
        for (const r of [update, insert, del])
          assert.deepEqual(r, { class: "write", rows: [], rowCount: 1 });
        await w.raw.run("UPDATE items SET name = 'by hand' WHERE id = 5");

        const journal = await w.f.store.readJournal(run.id);
        const intents = journal.filter((e) => e.type === "effect.intent");
        assert.deepEqual(
          intents.map((e) => [
            (e.data as { name: string }).name,
            (e.data as { effect: string }).effect,
          ]),
          [
            ["inv", "compensable"],
            ["inv", "compensable"],
            ["inv", "compensable"],
          ],
          "the read made no effect; each write is a compensable effect",
        );
        assert.equal(named(journal, "step.completed", "inv.read").length, 1, "the read is a step");
        const audit = await w.raw.all<{ run_id: string | null; step: string | null; op: string }>(
          "SELECT run_id, step, op FROM flotilla_audit ORDER BY seq",
        );
        assert.deepEqual(
          audit,
          [
            { run_id: run.id, step: intents[0]?.step, op: "UPDATE" },
            { run_id: run.id, step: intents[1]?.step, op: "INSERT" },
            { run_id: run.id, step: intents[2]?.step, op: "DELETE" },
            { run_id: null, step: null, op: "UPDATE" },
          ],
          "each write carries the run and the step of its effect; a write by hand carries none",
        );
      } finally {
        await w.done();
      }
    });

    it("a destructive statement waits for approve-sql; approved, it runs and is attributed", async () => {
      const w = await itemsWorld(kind);
      try {
        const db = w.tool("inv");
        await db.guard(["items"]);
        const agent = w.f.agent("wipe", async (ctx) => db.query(ctx, "DELETE FROM items"));
        const run = await w.f.start(agent, null);
        const request = await approvalRequest(w.f, run.id, "inv");
        assert.equal(request.signal, "approve-sql");
        assert.equal(request.sql, "DELETE FROM items");
        assert.equal(request.rowsTouched, 10, "a dry run counted what it would delete");
        assert.match(request.reasons.join(), /without WHERE/);
        assert.equal(await count(w), 10, "nothing is deleted before the approval");
        await run.signal("approve-sql", { approved: true, reason: "clean slate" });
        assert.deepEqual(await run.result({ timeoutMs: 20_000 }), {
          class: "destructive",
          rows: [],
          rowCount: 10,
        });
        assert.equal(await count(w), 0);
        const attributed = await w.raw.all<{ n: number }>(
          `SELECT count(*) AS n FROM flotilla_audit WHERE run_id = ${w.p(1)} AND op = 'DELETE'`,
          [run.id],
        );
        assert.equal(Number(attributed[0]?.n), 10, "every deleted row is kept, attributed");
      } finally {
        await w.done();
      }
    });

    it("a denial (or a malformed decision) leaves the table as it was", async () => {
      const w = await itemsWorld(kind);
      try {
        const db = w.tool("inv");
        await db.guard(["items"]);
        const agent = w.f.agent("drop", async (ctx) => [
          await codeOf(() => db.query(ctx, "DROP TABLE items")),
          await codeOf(() => db.query(ctx, "UPDATE items SET qty = 0")),
        ]);
        const run = await w.f.start(agent, null);
        const request = await approvalRequest(w.f, run.id, "inv");
        assert.equal(request.rowsTouched, null, "a schema change has no dry run");
        await run.signal("approve-sql", { approved: false, reason: "code freeze" });
        await approvalRequest(w.f, run.id, "inv", 2);
        await run.signal("approve-sql", { approve: "yes" });
        assert.deepEqual(await run.result({ timeoutMs: 20_000 }), [
          "FLOTILLA_APPROVAL_DENIED",
          "FLOTILLA_INVALID_ARGUMENT",
        ]);
        assert.equal(await count(w), 10);
        assert.equal(await count(w, "qty = 0"), 0);
        const journal = await w.f.store.readJournal(run.id);
        assert.equal(
          journal.filter((e) => e.type === "effect.intent").length,
          0,
          "nothing was attempted",
        );
      } finally {
        await w.done();
      }
    });

    it("an approval not given within approvalTimeoutMs fails the statement with FLOTILLA_TIMEOUT", async () => {
      const w = await itemsWorld(kind);
      try {
        const db = w.tool("inv", { approvalTimeoutMs: 300 });
        await db.guard(["items"]);
        const agent = w.f.agent("late", async (ctx) =>
          codeOf(() => db.query(ctx, "DELETE FROM items")),
        );
        const run = await w.f.start(agent, null);
        assert.equal(await run.result({ timeoutMs: 20_000 }), "FLOTILLA_TIMEOUT");
        assert.equal(await count(w), 10, "nothing was deleted");
      } finally {
        await w.done();
      }
    });

    it("destructive: 'refuse' refuses at once, without waiting or touching the table", async () => {
      const w = await itemsWorld(kind);
      try {
        const db = w.tool("strict", { destructive: "refuse", rowLimit: 3 });
        await db.guard(["items"]);
        const { p } = w;
        const agent = w.f.agent("refused", async (ctx) => [
          await codeOf(() => db.query(ctx, "DELETE FROM items")),
          await codeOf(() => db.query(ctx, "ALTER TABLE items ADD COLUMN x INTEGER")),
          await codeOf(() => db.query(ctx, `UPDATE items SET qty = 0 WHERE id <= ${p(1)}`, [5])),
          await codeOf(() => db.query(ctx, `UPDATE items SET qty = 0 WHERE id <= ${p(1)}`, [3])),
        ]);
        const run = await w.f.start(agent, null);
        assert.deepEqual(await run.result({ timeoutMs: 20_000 }), [
          "FLOTILLA_SQL_REFUSED",
          "FLOTILLA_SQL_REFUSED",
          "FLOTILLA_SQL_REFUSED",
          "ok",
        ]);
        assert.equal(await count(w, "qty = 0"), 3, "only the statement within the limit ran");
        const journal = await w.f.store.readJournal(run.id);
        assert.equal(
          named(journal, "step.completed", "strict.preview").length,
          0,
          "no approval asked",
        );
        const failed = journal.filter((e) => e.type === "effect.failed");
        assert.equal(failed.length, 1, "the statement over the limit failed as an effect…");
        assert.equal(
          (failed[0]?.data as { error: { code: string } }).error.code,
          "FLOTILLA_SQL_ROW_LIMIT",
        );
        assert.equal(journal.filter((e) => e.type === "effect.unknown").length, 0, "…not unknown");
      } finally {
        await w.done();
      }
    });

    it("an UPDATE over the row limit is counted, rolled back, and waits for an approval", async () => {
      const w = await itemsWorld(kind);
      try {
        const db = w.tool("inv", { rowLimit: 3 });
        await db.guard(["items"]);
        const { p } = w;
        const agent = w.f.agent("many", async (ctx) => [
          await db.query(ctx, `UPDATE items SET qty = 0 WHERE id <= ${p(1)}`, [3]),
          await db.query(ctx, `UPDATE items SET qty = -1 WHERE id > ${p(1)}`, [5]),
        ]);
        const run = await w.f.start(agent, null);
        const request = await approvalRequest(w.f, run.id, "inv");
        assert.equal(request.rowsTouched, 5);
        assert.match(request.reasons.join(), /5 rows, over the tool's rowLimit of 3/);
        assert.equal(await count(w, "qty = -1"), 0, "the statement over the limit was rolled back");
        assert.equal(await count(w, "qty = 0"), 3, "the one within it ran without asking");
        await run.signal("approve-sql", { approved: true });
        const [small, large] = await run.result({ timeoutMs: 20_000 });
        assert.equal(small?.class, "write");
        assert.deepEqual(large, { class: "destructive", rows: [], rowCount: 5 });
        assert.equal(await count(w, "qty = -1"), 5);
      } finally {
        await w.done();
      }
    });

    it("bad input gets typed errors, and never parks the run", async () => {
      const w = await itemsWorld(kind);
      try {
        assert.equal(
          await codeOf(async () => w.f.sqlTool("x", { store: "redis://nope" })),
          "FLOTILLA_INVALID_ARGUMENT",
        );
        assert.equal(
          await codeOf(async () => w.f.sqlTool("x", { store: "" })),
          "FLOTILLA_INVALID_ARGUMENT",
        );
        for (const bad of [
          { rowLimit: -1 },
          { destructive: "maybe" },
          { colour: "red" },
          { sideChannels: "x" },
        ]) {
          try {
            w.f.sqlTool("x", { store: w.url, ...(bad as object) });
            assert.fail("accepted bad options");
          } catch (err) {
            assert.ok(isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT"), String(err));
            assert.match(err.message, /sqlTool 'x'/);
          }
        }
        const db = w.tool("inv");
        const { p } = w;
        const unguarded = w.f.agent("unguarded", async (ctx) =>
          codeOf(() => db.query(ctx, `UPDATE items SET qty = 1 WHERE id = ${p(1)}`, [1])),
        );
        const first = await w.f.start(unguarded, null);
        assert.equal(
          await first.result({ timeoutMs: 20_000 }),
          "FLOTILLA_SQL_NOT_GUARDED",
          "nothing guarded yet",
        );
        await db.guard(["items"]);
        await w.raw.run("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
        const agent = w.f.agent("bad", async (ctx) => [
          await codeOf(() => db.query(ctx, "UPDAET items SET qty = 1")),
          await codeOf(() => db.query(ctx, `UPDATE nowhere SET qty = 1 WHERE id = ${p(1)}`, [1])),
          await codeOf(() =>
            db.query(ctx, `INSERT INTO notes VALUES (${p(1)}, ${p(2)})`, [1, "x"]),
          ),
          // Refused for the table it names, even when it would change no row.
          await codeOf(() => db.query(ctx, `DELETE FROM notes WHERE id = ${p(1)}`, [999])),
          await codeOf(() => db.query(ctx, "SELECT * FROM nowhere")),
          await codeOf(() =>
            db.query(ctx, `INSERT INTO items VALUES (${p(1)}, ${p(2)}, ${p(3)})`, [1, "dup", 0]),
          ),
          await codeOf(() =>
            db.query(ctx, `SELECT * FROM items WHERE id = ${p(1)}`, [{ id: 1 }] as never),
          ),
          await codeOf(() => db.query(ctx, "SELECT 1; SELECT 2")),
          await codeOf(() => db.query(ctx, "COMMIT")),
        ]);
        const run = await w.f.start(agent, null);
        assert.deepEqual(await run.result({ timeoutMs: 20_000 }), [
          "FLOTILLA_SQL_PARSE",
          "FLOTILLA_SQL_UNKNOWN_TABLE",
          "FLOTILLA_SQL_NOT_GUARDED",
          "FLOTILLA_SQL_NOT_GUARDED",
          "FLOTILLA_SQL_UNKNOWN_TABLE",
          "FLOTILLA_SQL_ERROR",
          "FLOTILLA_INVALID_ARGUMENT",
          "FLOTILLA_SQL_REFUSED",
          // SQLite's grammar has no transaction control: unparsed, refused all the same.
          kind === "sqlite" ? "FLOTILLA_SQL_PARSE" : "FLOTILLA_SQL_REFUSED",
        ]);
        assert.equal((await w.f.getRun(run.id)).status, "completed", "no failure parked the run");
        assert.equal(await count(w, "qty = 1 AND id = 1"), 1, "nothing changed");
        assert.equal(
          Number((await w.raw.all<{ n: number }>("SELECT count(*) AS n FROM notes"))[0]?.n),
          0,
        );
        const missing = w.f.sqlTool("gone", {
          store:
            kind === "postgres"
              ? "postgres://127.0.0.1:1/none"
              : join(tmpdir(), "no-such-dir", "x.db"),
        });
        const lost = w.f.agent("lost", async (ctx) => {
          try {
            await missing.query(ctx, "SELECT 1");
            return "ok";
          } catch (err) {
            // Retried as a lost connection, then given up on: the last error says why.
            if (!isFlotillaError(err)) return String(err);
            const last = err.details.lastError as { code?: string } | undefined;
            return last?.code ?? err.code;
          }
        });
        const third = await w.f.start(lost, null);
        assert.equal(await third.result({ timeoutMs: 30_000 }), "FLOTILLA_STORE_UNAVAILABLE");
        await missing.close();
      } finally {
        await w.done();
      }
    });

    it("a write reaching an unguarded table (a trigger, a cascade) is rolled back, not left unaudited", async () => {
      const w = await itemsWorld(kind);
      try {
        const db = w.tool("inv");
        await db.guard(["items"]);
        if (kind === "sqlite") {
          await w.raw.run("CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT)");
          await w.raw.run(
            "CREATE TRIGGER items_log AFTER UPDATE ON items BEGIN INSERT INTO log (what) VALUES ('changed'); END",
          );
        } else {
          await w.raw.run(
            "CREATE TABLE log (id serial PRIMARY KEY, item int REFERENCES items (id) ON DELETE CASCADE)",
          );
          await w.raw.run("INSERT INTO log (item) VALUES (1)");
        }
        const sql =
          kind === "sqlite"
            ? "UPDATE items SET qty = 99 WHERE id = ?"
            : "DELETE FROM items WHERE id = $1";
        const agent = w.f.agent("reach", async (ctx) => codeOf(() => db.query(ctx, sql, [1])));
        const run = await w.f.start(agent, null);
        assert.equal(await run.result({ timeoutMs: 20_000 }), "FLOTILLA_SQL_NOT_GUARDED");
        assert.equal(await count(w, "id = 1 AND qty = 1"), 1, "the row is untouched");
        const log = await w.raw.all<{ n: number }>("SELECT count(*) AS n FROM log");
        assert.equal(Number(log[0]?.n), kind === "sqlite" ? 0 : 1, "and so is the unguarded table");
      } finally {
        await w.done();
      }
    });

    it("a write committed once is not committed again under the same run and step", async () => {
      const w = await itemsWorld(kind);
      try {
        const db = w.tool("inv");
        await db.guard(["items"]);
        const database = await db.database();
        const sql = `UPDATE items SET qty = qty + 1 WHERE id = ${w.p(1)}`;
        const req = {
          runId: "run-x",
          step: "4",
          tool: "inv",
          sql,
          params: [1],
          classification: db.classify(sql),
          rowLimit: null,
          sideChannels: [],
        };
        const first = await database.write(req);
        const again = await database.write(req);
        assert.deepEqual(again, first, "the second call answers what the first committed");
        assert.deepEqual(await database.recorded("run-x", "4"), first, "what reconcile finds");
        assert.equal(await database.recorded("run-x", "5"), undefined);
        assert.equal(await count(w, "id = 1 AND qty = 2"), 1, "applied once");
      } finally {
        await w.done();
      }
    });
  });
}

describe("SQL tool on postgres: reads run in read-only transactions", { skip: pgSkip }, () => {
  it("a SELECT that writes (through a function) is refused by the server", async () => {
    const w = await itemsWorld("postgres");
    try {
      await w.raw.run("CREATE SEQUENCE s");
      const db = w.tool("inv");
      await db.guard(["items"]);
      const agent = w.f.agent("sneaky", async (ctx) =>
        codeOf(() => db.query(ctx, "SELECT nextval('s')")),
      );
      const run = await w.f.start(agent, null);
      assert.equal(await run.result({ timeoutMs: 20_000 }), "FLOTILLA_SQL_REFUSED");
      const s = await w.raw.all<{ called: boolean }>("SELECT is_called AS called FROM s");
      assert.equal(s[0]?.called, false, "the sequence did not move");
    } finally {
      await w.done();
    }
  });
});
