import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { parseTokens } from "../src/server/auth.js";
import { startServer, type RunningServer } from "../src/server/server.js";
import { openStore } from "../src/store/open.js";
import type { JournalEvent } from "../src/store/types.js";
import { tempStore } from "./helpers/tempStore.js";
import { settle } from "./helpers/deadletter.js";
import { call, openServeFleet, TOKENS, TOKENS_ENV, type ServeFleet } from "./serve.fixture.js";

type ErrorBody = { error: { code: string; message: string; details: Record<string, unknown> } };
type Runs = {
  runs: {
    id: string;
    tenant: string | null;
    status: string;
    agent: string;
    cost: { usd: number; llmCalls: number; inputTokens: number };
    ageMs: number;
  }[];
};

function expectError(
  res: { status: number; body: unknown },
  status: number,
  code: string,
): ErrorBody["error"] {
  assert.equal(res.status, status, JSON.stringify(res.body));
  const e = (res.body as ErrorBody).error;
  assert.equal(e.code, code, JSON.stringify(res.body));
  assert.equal(typeof e.message, "string");
  assert.equal(typeof e.details, "object");
  return e;
}

const journal = (fleet: ServeFleet, runId: string): Promise<JournalEvent[]> =>
  fleet.flotilla.store.readJournal(runId);
const dataOf = (e: JournalEvent | undefined) => (e?.data ?? {}) as Record<string, unknown>;

const postgresSkip = await postgresSkipReason();

for (const kind of ["sqlite", "postgres"] as const)
  describe(
    `flotilla serve: JSON API (${kind})`,
    kind === "postgres" && postgresSkip ? { skip: postgresSkip } : {},
    () => {
      let fleet: ServeFleet;
      let dropDatabase: (() => Promise<void>) | undefined;
      let server: RunningServer;
      let base: string;
      const as = (token: string | undefined) => ({
        get: <T = Record<string, unknown>>(path: string) => call<T>(base, "GET", path, { token }),
        post: <T = Record<string, unknown>>(
          path: string,
          body?: unknown,
          headers?: Record<string, string>,
        ) =>
          call<T>(base, "POST", path, {
            token,
            ...(body !== undefined ? { body } : {}),
            ...(headers ? { headers } : {}),
          }),
      });
      const admin = as(TOKENS.admin);
      const acme = as(TOKENS.acme);

      before(async () => {
        let store = tempStore();
        if (kind === "postgres") {
          const db = await freshDatabase();
          store = db.url;
          dropDatabase = db.drop;
        }
        fleet = await openServeFleet(store);
        server = await startServer({
          store,
          port: 0,
          tokens: parseTokens(TOKENS_ENV, "FLOTILLA_TOKENS"),
          pollMs: 50,
          log: () => undefined,
        });
        base = server.url;
      });
      after(async () => {
        try {
          await server?.close();
        } finally {
          try {
            await fleet?.close();
          } finally {
            await dropDatabase?.();
          }
        }
      });

      it("answers 401 with a typed error without a token or with a wrong one", async () => {
        for (const token of [undefined, "not-a-configured-token"]) {
          const res = await as(token).get("/api/runs");
          expectError(res, 401, "FLOTILLA_UNAUTHENTICATED");
          assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
        }
        const basic = await call(base, "GET", "/api/runs", {
          headers: { authorization: "Basic eDp5" },
        });
        expectError(basic, 401, "FLOTILLA_UNAUTHENTICATED");
        const me = await acme.get<{ name: string; tenant: string; auth: boolean }>("/api/me");
        assert.deepEqual(me.body, { name: "acme-ops", tenant: "acme", auth: true });
      });

      it("lists runs with cost, tokens and age; filters by status, agent and tenant", async () => {
        const all = await admin.get<Runs>("/api/runs?limit=100");
        assert.equal(all.status, 200);
        const ids = all.body.runs.map((r) => r.id);
        for (const t of [fleet.acme, fleet.globex])
          for (const id of [t.done, t.child, t.waiting, t.failed, t.dead, t.parked])
            assert.ok(ids.includes(id), id);
        const done = all.body.runs.find((r) => r.id === fleet.acme.done);
        assert.equal(done?.cost.llmCalls, 2);
        assert.ok(Math.abs((done?.cost.usd ?? 0) - 0.002) < 1e-9, "two calls at $0.001");
        assert.equal(done?.cost.inputTokens, 20);
        assert.ok((done?.ageMs ?? -1) >= 0);

        const waiting = await admin.get<Runs>("/api/runs?status=waiting");
        assert.deepEqual(
          new Set(waiting.body.runs.map((r) => r.id)),
          new Set([fleet.acme.waiting, fleet.globex.waiting]),
        );
        const byAgent = await admin.get<Runs>("/api/runs?agent=serve.desk");
        assert.deepEqual(
          new Set(byAgent.body.runs.map((r) => r.id)),
          new Set([fleet.acme.done, fleet.globex.done]),
        );
        const globex = await admin.get<Runs>("/api/runs?tenant=globex&status=failed");
        assert.deepEqual(
          globex.body.runs.map((r) => r.id),
          [fleet.globex.failed],
        );
        const two = await admin.get<Runs>("/api/runs?limit=2");
        assert.equal(two.body.runs.length, 2);
      });

      it("refuses bad filters with typed errors naming the field", async () => {
        for (const [query, field] of [
          ["status=bogus", "query.status"],
          ["limit=0", "query.limit"],
          ["limit=-1", "query.limit"],
          ["limit=abc", "query.limit"],
          ["limit=100000", "query.limit"],
          ["colour=red", "query"],
          ["agent=", "query.agent"],
        ] as const) {
          const e = expectError(
            await admin.get(`/api/runs?${query}`),
            400,
            "FLOTILLA_INVALID_ARGUMENT",
          );
          assert.ok(String(e.details.field).startsWith(field), `${query}: ${JSON.stringify(e)}`);
        }
        expectError(
          await admin.get("/api/runs?status=failed&status=completed"),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
        expectError(
          await admin.get("/api/dead-letters?class=nope"),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
        expectError(await admin.get("/api/cost?bucket=week"), 400, "FLOTILLA_INVALID_ARGUMENT");
        expectError(
          await admin.get("/api/cost?bucket=minute&hours=2000"),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
      });

      it("refuses bad ids (400) and unknown ones (404)", async () => {
        for (const path of [
          "/api/runs/not-a-uuid",
          "/api/runs/%27%20OR%201%3D1",
          "/api/runs/not-a-uuid/events",
          "/api/runs/not-a-uuid/undo-plan",
          "/api/dead-letters/x",
        ])
          expectError(await admin.get(path), 400, "FLOTILLA_INVALID_ARGUMENT");
        const unknown = "01a24b05-0000-7000-8000-000000000000";
        for (const path of [
          `/api/runs/${unknown}`,
          `/api/runs/${unknown}/undo-plan`,
          `/api/dead-letters/${unknown}`,
        ])
          expectError(await admin.get(path), 404, "FLOTILLA_NOT_FOUND");
        expectError(await admin.post(`/api/runs/${unknown}/cancel`), 404, "FLOTILLA_NOT_FOUND");
        expectError(
          await admin.post(`/api/runs/${fleet.acme.parked}/effects/bad%20step/resolve`, {
            outcome: "retry",
          }),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
        expectError(await admin.get("/api/nothing-here"), 404, "FLOTILLA_NOT_FOUND");
        expectError(await admin.post("/api/runs"), 404, "FLOTILLA_NOT_FOUND");
      });

      it("refuses bad bodies: not JSON, not JSON typed, unknown fields, wrong types, too large", async () => {
        const path = `/api/runs/${fleet.acme.parked}/effects/${fleet.acme.parkedStep}/resolve`;
        expectError(await admin.post(path, "{not json"), 400, "FLOTILLA_INVALID_ARGUMENT");
        expectError(
          await admin.post(path, '{"outcome":"retry"}', { "content-type": "text/plain" }),
          415,
          "FLOTILLA_INVALID_ARGUMENT",
        );
        expectError(await admin.post(path, { outcome: "maybe" }), 400, "FLOTILLA_INVALID_ARGUMENT");
        expectError(
          await admin.post(path, { outcome: "failed" }),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
        expectError(
          await admin.post(path, { outcome: "retry", extra: 1 }),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
        expectError(await admin.post(path, [1, 2]), 400, "FLOTILLA_INVALID_ARGUMENT");
        expectError(await admin.post(path, "null"), 400, "FLOTILLA_INVALID_ARGUMENT");
        expectError(
          await admin.post(`/api/runs/${fleet.acme.waiting}/cancel`, { reason: 42 }),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
        expectError(
          await admin.post(`/api/dead-letters/${fleet.acme.deadLetter}/discard`, {}),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
        expectError(
          await admin.post(`/api/dead-letters/${fleet.acme.deadLetter}/redrive`, {
            patch: { budget: { usd: -1 } },
          }),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
        const big = JSON.stringify({ reason: "x".repeat(2 * 1024 * 1024) });
        expectError(
          await admin.post(`/api/runs/${fleet.acme.waiting}/cancel`, big),
          413,
          "FLOTILLA_PAYLOAD_REJECTED",
        );
        // Nothing above acted: the runs are as they were.
        assert.equal((await fleet.flotilla.store.getRun(fleet.acme.parked))?.status, "parked");
        assert.equal((await fleet.flotilla.store.getRun(fleet.acme.waiting))?.status, "waiting");
      });

      it("shows a run: timeline, effects with state, LLM calls with model, tokens, cost, attempts and provenance, children", async () => {
        const res = await admin.get<{
          run: { id: string; status: string };
          timeline: { type: string; summary: string }[];
          effects: { step: string; tool: string; effect: string; state: string; key: string }[];
          llmCalls: {
            model: string;
            inputTokens: number;
            outputTokens: number;
            costUsd: number;
            attempts: number;
            provenance: { degraded: boolean };
          }[];
          children: { runId: string; agent: string; status: string }[];
          steps: { step: string; state: string }[];
          cost: { usd: number; llmCalls: number };
          undo: unknown;
        }>(`/api/runs/${fleet.acme.done}`);
        assert.equal(res.status, 200);
        const v = res.body;
        assert.equal(v.run.status, "completed");
        assert.deepEqual(
          v.effects.map((e) => [e.tool, e.effect, e.state, e.key]),
          [["payments.charge", "compensable", "committed", "charge:acme-1"]],
        );
        assert.deepEqual(
          v.llmCalls.map((l) => [
            l.model,
            l.inputTokens,
            l.outputTokens,
            l.costUsd,
            l.attempts,
            l.provenance.degraded,
          ]),
          [
            ["sim-small", 10, 5, 0.001, 1, false],
            ["sim-large", 10, 5, 0.001, 1, false],
          ],
        );
        assert.deepEqual(
          v.children.map((c) => [c.runId, c.agent, c.status]),
          [[fleet.acme.child, "serve.research", "completed"]],
        );
        assert.ok(
          v.steps.every((s) => s.state === "completed"),
          JSON.stringify(v.steps),
        );
        assert.ok(
          v.timeline.some(
            (t) => t.type === "child.spawned" && t.summary.includes(fleet.acme.child),
          ),
        );
        assert.equal(v.cost.llmCalls, 2);
        assert.equal(v.undo, null);

        const parked = await admin.get<{ effects: { state: string; awaitingDecision: boolean }[] }>(
          `/api/runs/${fleet.acme.parked}`,
        );
        assert.deepEqual(
          parked.body.effects.map((e) => [e.state, e.awaitingDecision]),
          [["unknown", true]],
        );
      });

      it("keeps tenants apart on every endpoint: another tenant's run or dead letter answers 404", async () => {
        const list = await acme.get<Runs>("/api/runs?limit=100");
        assert.ok(list.body.runs.length >= 6);
        assert.ok(
          list.body.runs.every((r) => r.tenant === "acme"),
          "only acme runs",
        );
        expectError(await acme.get("/api/runs?tenant=globex"), 403, "FLOTILLA_FORBIDDEN");
        expectError(await acme.get("/api/cost?tenant=globex"), 403, "FLOTILLA_FORBIDDEN");
        const g = fleet.globex;
        for (const path of [
          `/api/runs/${g.done}`,
          `/api/runs/${g.child}`,
          `/api/runs/${g.done}/undo-plan`,
          `/api/runs/${g.waiting}/events`,
          `/api/dead-letters/${g.deadLetter}`,
        ])
          expectError(await acme.get(path), 404, "FLOTILLA_NOT_FOUND");
        for (const [path, body] of [
          [`/api/runs/${g.waiting}/cancel`, {}],
          [`/api/runs/${g.waiting}/cancel?compensate=true`, {}],
          [`/api/runs/${g.failed}/retry`, {}],
          [`/api/runs/${g.parked}/effects/${g.parkedStep}/resolve`, { outcome: "committed" }],
          [`/api/runs/${g.done}/undo`, {}],
          [`/api/dead-letters/${g.deadLetter}/redrive`, {}],
          [`/api/dead-letters/${g.deadLetter}/discard`, { reason: "not mine" }],
        ] as const)
          expectError(await acme.post(path, body), 404, "FLOTILLA_NOT_FOUND");
        const dls = await acme.get<{ deadLetters: { tenant: string }[] }>("/api/dead-letters");
        assert.ok(
          dls.body.deadLetters.length >= 1 &&
            dls.body.deadLetters.every((d) => d.tenant === "acme"),
        );
        // Nothing of globex's moved.
        for (const [id, status] of [
          [g.waiting, "waiting"],
          [g.failed, "failed"],
          [g.parked, "parked"],
          [g.dead, "dead-lettered"],
        ] as const)
          assert.equal((await fleet.flotilla.store.getRun(id))?.status, status, id);
        assert.equal((await fleet.flotilla.getDeadLetter(g.deadLetter)).status, "open");
        const fleetView = await acme.get<{ dependencies: unknown[]; breakers: unknown[] }>(
          "/api/fleet",
        );
        assert.equal(fleetView.status, 200);
      });

      it(
        "streams a run's journal as Server-Sent Events, and new events as they are journaled",
        { timeout: 20_000 },
        async () => {
          const ctrl = new AbortController();
          const res = await fetch(`${base}/api/runs/${fleet.globex.waiting}/events`, {
            headers: { authorization: `Bearer ${TOKENS.globex}` },
            signal: ctrl.signal,
          });
          try {
            assert.equal(res.status, 200);
            assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
            const reader = (res.body as ReadableStream<Uint8Array>).getReader();
            const decoder = new TextDecoder();
            let text = "";
            const readUntil = async (pattern: RegExp) => {
              while (!pattern.test(text)) {
                const chunk = await reader.read();
                if (chunk.done) throw new Error(`stream ended before ${pattern}: ${text}`);
                text += decoder.decode(chunk.value, { stream: true });
              }
            };
            await readUntil(/event: run\ndata: \{[^\n]*"status":"waiting"/);
            await readUntil(
              /event: journal\ndata: \{[^\n]*"type":"run.suspended"[^\n]*\}\nid: \d+\n/,
            );
            await fleet.flotilla.signal(fleet.globex.waiting, "go", "ok");
            await readUntil(/"type":"run.completed"/);
            await readUntil(/event: run\ndata: \{[^\n]*"status":"completed"/);
          } finally {
            ctrl.abort();
          }
        },
      );

      it("cancels a run and answers the receipt; the reason names the token", async () => {
        const res = await acme.post<{ runId: string; reason: string; committed: unknown[] }>(
          `/api/runs/${fleet.acme.waiting}/cancel`,
          { reason: "customer withdrew" },
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.runId, fleet.acme.waiting);
        assert.equal(res.body.reason, "customer withdrew (by acme-ops)");
        assert.equal((await fleet.flotilla.store.getRun(fleet.acme.waiting))?.status, "cancelled");
        const requested = (await journal(fleet, fleet.acme.waiting)).find(
          (e) => e.type === "run.cancel-requested",
        );
        assert.equal(dataOf(requested).reason, "customer withdrew (by acme-ops)");
        const again = await acme.post(`/api/runs/${fleet.acme.done}/cancel`);
        expectError(again, 400, "FLOTILLA_INVALID_ARGUMENT"); // a completed run: nothing to cancel
      });

      it("resolves a parked effect, journaled by the token's name", async () => {
        fleet.heal();
        const path = `/api/runs/${fleet.acme.parked}/effects/${fleet.acme.parkedStep}/resolve`;
        const res = await acme.post(path, { outcome: "committed", result: { shipped: "acme-2" } });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(
          await fleet.flotilla.handle(fleet.acme.parked).result({ timeoutMs: 10_000 }),
          {
            shipped: "acme-2",
          },
        );
        const resolved = (await journal(fleet, fleet.acme.parked)).find(
          (e) => e.type === "effect.resolved",
        );
        assert.equal(dataOf(resolved).by, "acme-ops");
        expectError(
          await acme.post(path, { outcome: "committed" }),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
      });

      it("retries a failed run, journaled with the token's name and reason", async () => {
        fleet.heal();
        const res = await acme.post(`/api/runs/${fleet.acme.failed}/retry`, {
          reason: "bug fixed",
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(
          await fleet.flotilla.handle(fleet.acme.failed).result({ timeoutMs: 10_000 }),
          "fixed",
        );
        const retried = (await journal(fleet, fleet.acme.failed)).find(
          (e) => e.type === "run.retried",
        );
        assert.deepEqual([dataOf(retried).by, dataOf(retried).reason], ["acme-ops", "bug fixed"]);
        expectError(
          await acme.post(`/api/runs/${fleet.acme.done}/retry`),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
      });

      it("lists dead letters by class, redrives one with the token's name, discards with a reason", async () => {
        fleet.heal();
        const list = await admin.get<{
          deadLetters: { id: string; class: string; status: string }[];
          byClass: Record<string, number>;
        }>("/api/dead-letters?class=non-retryable&status=open");
        assert.deepEqual(
          new Set(list.body.deadLetters.map((d) => d.id)),
          new Set([fleet.acme.deadLetter, fleet.globex.deadLetter]),
        );
        assert.equal(list.body.byClass["non-retryable"], 2);
        const one = await acme.get<{ id: string; runId: string }>(
          `/api/dead-letters/${fleet.acme.deadLetter}`,
        );
        assert.equal(one.body.runId, fleet.acme.dead);

        const res = await acme.post<{ status: string }>(
          `/api/dead-letters/${fleet.acme.deadLetter}/redrive`,
          { reason: "provider fixed" },
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.status, "redriven");
        assert.equal(
          await fleet.flotilla.handle(fleet.acme.dead).result({ timeoutMs: 10_000 }),
          "answer to flaky",
        );
        const redriven = (await journal(fleet, fleet.acme.dead)).find(
          (e) => e.type === "run.redriven",
        );
        assert.deepEqual(
          [dataOf(redriven).by, dataOf(redriven).reason],
          ["acme-ops", "provider fixed"],
        );
        expectError(
          await acme.post(`/api/dead-letters/${fleet.acme.deadLetter}/redrive`),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );

        const discarded = await admin.post<{ status: string }>(
          `/api/dead-letters/${fleet.globex.deadLetter}/discard`,
          { reason: "test data" },
        );
        assert.equal(discarded.body.status, "discarded");
        const entry = await fleet.flotilla.getDeadLetter(fleet.globex.deadLetter);
        assert.deepEqual(
          [
            (entry.resolution as { by: string }).by,
            (entry.resolution as { reason: string }).reason,
          ],
          ["admin", "test data"],
        );
      });

      it("redrives a class: a tenant's token only its own tenant's entries", async () => {
        const refusal = expectError(
          await acme.post("/api/dead-letters/redrive"),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
        assert.equal(refusal.details.field, "query.class");
        const f = fleet.flotilla;
        const broken = f.agentByName("serve.broken");
        assert.ok(broken);
        const mine = await f.start(broken, null, { tenant: "acme" });
        const theirs = await f.start(broken, null, { tenant: "globex" });
        await settle(f, mine.id);
        await settle(f, theirs.id);
        const [mineEntry] = await f.listDeadLetters({ runId: mine.id, status: "open" });
        const [theirEntry] = await f.listDeadLetters({ runId: theirs.id, status: "open" });
        assert.ok(mineEntry && theirEntry);
        const res = await acme.post<{ redriven: string[]; skipped: unknown[] }>(
          "/api/dead-letters/redrive?class=non-retryable&rate=50",
          { reason: "model fixed" },
        );
        assert.equal(res.status, 200);
        assert.deepEqual(res.body.redriven, [mineEntry.id], "acme's open entry, not globex's");
        assert.equal((await f.getDeadLetter(theirEntry.id)).status, "open");
        const redriven = (await f.store.readJournal(mine.id)).find(
          (e) => e.type === "run.redriven",
        );
        assert.deepEqual(
          [dataOf(redriven).by, dataOf(redriven).reason],
          ["acme-ops", "model fixed"],
        );
        const all = await admin.post<{ redriven: string[] }>(
          "/api/dead-letters/redrive?class=non-retryable&rate=50",
        );
        assert.ok(
          all.body.redriven.includes(theirEntry.id),
          "a token for * redrives every tenant's",
        );
      });

      it("plans an undo, then undoes: the report says what was reversed", async () => {
        const plan = await acme.get<{ effects: { tool: string; action: string; wave: number }[] }>(
          `/api/runs/${fleet.acme.done}/undo-plan`,
        );
        assert.equal(plan.status, 200);
        assert.deepEqual(
          plan.body.effects.map((e) => [e.tool, e.action]),
          [["payments.charge", "compensate"]],
        );
        assert.equal(fleet.refunds.length, 0, "a plan does nothing");
        const res = await acme.post<{ complete: boolean; effects: { outcome: string }[] }>(
          `/api/runs/${fleet.acme.done}/undo?timeout=20`,
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.complete, true);
        assert.deepEqual(
          res.body.effects.map((e) => e.outcome),
          ["undone"],
        );
        assert.deepEqual(fleet.refunds, [{ order: "acme-1" }]);
        const shown = await acme.get<{ undo: { status: string; report: { complete: boolean } } }>(
          `/api/runs/${fleet.acme.done}`,
        );
        assert.equal(shown.body.undo.status, "completed");
        assert.equal(shown.body.undo.report.complete, true);
        expectError(
          await acme.get(`/api/runs/${fleet.acme.waiting}/undo-plan?x=1`),
          400,
          "FLOTILLA_INVALID_ARGUMENT",
        );
      });

      it("cancels with compensate: the receipt carries the undo report", async () => {
        const f = fleet.flotilla;
        const waiter = f.agentByName("serve.waiter");
        assert.ok(waiter);
        const run = await f.start(waiter, null, { tenant: "acme" });
        const res = await acme.post<{ undo?: { complete: boolean }; reason: string }>(
          `/api/runs/${run.id}/cancel?compensate=true&timeout=20`,
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.undo?.complete, true);
      });

      it("serves cost over time in buckets, and fleet admission with breakers", async () => {
        const cost = await admin.get<{
          bucketMs: number;
          buckets: { start: number; usd: number; llmCalls: number }[];
          total: { usd: number; llmCalls: number };
        }>("/api/cost?bucket=minute&hours=1");
        assert.equal(cost.status, 200);
        assert.equal(cost.body.bucketMs, 60_000);
        assert.equal(cost.body.buckets.length, 61);
        const calls = cost.body.buckets.reduce((n, b) => n + b.llmCalls, 0);
        assert.equal(calls, cost.body.total.llmCalls);
        const runs = await admin.get<Runs>("/api/runs?limit=1000");
        const completedCalls = runs.body.runs.reduce((n, r) => n + r.cost.llmCalls, 0);
        assert.equal(
          cost.body.total.llmCalls,
          completedCalls,
          "every LLM call of the last hour, both tenants",
        );
        const mine = await acme.get<{ total: { llmCalls: number } }>("/api/cost?bucket=hour");
        assert.ok(
          mine.body.total.llmCalls < cost.body.total.llmCalls,
          "a tenant's cost counts its runs only",
        );
        const fleetView = await admin.get<{
          backend: null;
          note: string;
          dependencies: unknown[];
          breakers: { dependency: string }[];
        }>("/api/fleet");
        assert.equal(fleetView.status, 200);
        assert.equal(fleetView.body.backend, null);
        assert.match(fleetView.body.note, /--fleet/);
      });

      it("serves Prometheus metrics to a token for every tenant only", async () => {
        const res = await admin.get<string>("/metrics");
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
        const series = res.body.split("\n").filter((l) => l.startsWith("flotilla_"));
        assert.ok(series.length >= 5, series.join("\n"));
        assert.match(res.body, /^flotilla_runs\{[^}]*status="dead-lettered"[^}]*\} [1-9]/m);
        expectError(await acme.get("/metrics"), 403, "FLOTILLA_FORBIDDEN");
        expectError(await as(undefined).get("/metrics"), 401, "FLOTILLA_UNAUTHENTICATED");
      });

      it("serves the dashboard page with its script inline under a nonce CSP, and refuses cross-origin actions", async () => {
        const page = await fetch(`${base}/`);
        assert.equal(page.status, 200);
        const html = await page.text();
        const csp = page.headers.get("content-security-policy") ?? "";
        const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
        assert.ok(nonce, csp);
        assert.ok(html.includes(`<script nonce="${nonce}">`));
        assert.doesNotMatch(
          html,
          /<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/,
          "no external asset",
        );
        const cross = await call(base, "POST", `/api/runs/${fleet.globex.failed}/retry`, {
          token: TOKENS.admin,
          body: {},
          headers: { origin: "http://evil.example" },
        });
        expectError(cross, 403, "FLOTILLA_FORBIDDEN");
      });

      it("never crashes on what a client sends", async () => {
        const paths = [
          "/api/runs",
          `/api/runs/${fleet.globex.failed}`,
          `/api/runs/${fleet.globex.failed}/retry`,
          "/api/dead-letters/redrive",
          `/api/runs/${fleet.globex.parked}/effects/0/resolve`,
          "/api/runs/%E0%A4%A",
          "/api/runs/..%2F..%2Fetc",
          "/api/%00",
          "/api/runs?limit=1e3",
          "/api/runs?status[]=x",
        ];
        const bodies = [
          undefined,
          "",
          "{",
          "[]",
          "1",
          '"x"',
          '{"outcome":null}',
          '{"__proto__":{"x":1}}',
          "\u0000",
          '{"reason":"' + "\u{1F600}".repeat(10) + '"}',
        ];
        for (const path of paths)
          for (const method of ["GET", "POST", "PUT", "DELETE"])
            for (const body of method === "GET" ? [undefined] : bodies) {
              // acme's token on globex's runs: every request is refused one way or another, none acts.
              const res = await call(base, method, path, {
                token: TOKENS.acme,
                ...(body !== undefined ? { body } : {}),
              });
              assert.ok(
                res.status < 500,
                `${method} ${path} ${body}: ${res.status} ${JSON.stringify(res.body)}`,
              );
              if (res.status >= 400) assert.match((res.body as ErrorBody).error.code, /^FLOTILLA_/);
            }
        const ok = await admin.get("/api/me");
        assert.equal(ok.status, 200, "still serving");
        assert.equal(
          (await fleet.flotilla.store.getRun(fleet.globex.failed))?.status,
          "failed",
          "no fuzzed request acted",
        );
      });
    },
  );

describe("flotilla serve without tokens", () => {
  it("binds to loopback only, refuses another --host, and requests naming another host", async () => {
    const store = tempStore();
    await assert.rejects(
      startServer({ store, port: 0 }),
      (e: Error & { code?: string }) => e.code === "FLOTILLA_STORE_UNAVAILABLE",
      "a store that does not exist is refused, not created",
    );
    await (await openStore(store)).close();
    await assert.rejects(
      startServer({ store, port: 0, host: "0.0.0.0" }),
      (e: Error & { code?: string }) =>
        e.code === "FLOTILLA_INVALID_ARGUMENT" && /loopback/.test(e.message),
    );
    const server = await startServer({ store, port: 0, log: () => undefined });
    try {
      assert.equal(server.authenticated, false);
      assert.equal(server.host, "127.0.0.1");
      const me = await call<{ name: string; tenant: string; auth: boolean }>(
        server.url,
        "GET",
        "/api/me",
      );
      assert.deepEqual(me.body, { name: "local", tenant: "*", auth: false });
      const runs = await call<{ runs: unknown[] }>(server.url, "GET", "/api/runs");
      assert.deepEqual(runs.body, { runs: [] });
      // A page on another site reaching the port through a rebound DNS name: its Host names that site.
      const rebound = await new Promise<{ status: number; body: unknown }>((resolve, reject) => {
        const req = request(
          `${server.url}/api/runs`,
          { headers: { host: "attacker.example" } },
          (res) => {
            let text = "";
            res.on("data", (d: Buffer) => (text += d.toString()));
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }),
            );
          },
        );
        req.on("error", reject);
        req.end();
      });
      expectError(rebound, 403, "FLOTILLA_FORBIDDEN");
    } finally {
      await server.close();
    }
  });

  it("refuses malformed token lists, naming the entry, never echoing a token", () => {
    for (const text of [
      "admin:short:*",
      "admin:abcdefgh",
      "bad name:abcdefghij:*",
      "a:abcdefghij: ",
      "a:abcdefghij:*:extra",
    ])
      assert.throws(
        () => parseTokens(text, "FLOTILLA_TOKENS"),
        (e: Error & { code?: string }) =>
          e.code === "FLOTILLA_INVALID_ARGUMENT" && !e.message.includes("abcdefghij"),
      );
    assert.deepEqual(parseTokens("# ops\nann:abcdefghij:acme\n\nbob:klmnopqrst:*\n", "file"), [
      { name: "ann", token: "abcdefghij", tenant: "acme" },
      { name: "bob", token: "klmnopqrst", tenant: "*" },
    ]);
  });
});
