import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FaultyStore, type FaultOptions } from "../bench/support/faultyStore.js";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { region, regionState } from "../src/index.js";
import { PostgresStore } from "../src/store/postgres/PostgresStore.js";
import { SqliteStore } from "../src/store/sqlite/SqliteStore.js";
import type { Store } from "../src/store/types.js";
import { openOn, SEED, settleAll } from "./helpers/faultFleet.js";
import { tempStore } from "./helpers/tempStore.js";

/**
 * Shared state under store faults: every state call, and the commits around
 * it, failing at a seeded rate, with their replies lost or not. A run's state
 * write is applied once per (run, step), so a write that landed while its
 * execution was given up is returned, not applied again, when the run resumes.
 */

const pages = region("faults.pages", { isolation: "claim", leaseMs: 60_000 });
const visits = region("faults.visits", { isolation: "findings", reducer: "counter" });
const seen = region("faults.seen", { isolation: "findings", reducer: "append" });
const outline = region("faults.outline", { isolation: "doc" });

const ITEMS = 30;
const RUNS = 6;

async function stateUnderFaults(
  options: Omit<FaultOptions, "seed">,
  label: string,
  inner: Store = SqliteStore.open(tempStore()),
) {
  const faulty = new FaultyStore(inner, { ...options, seed: SEED });
  const f = await openOn(faulty.store);
  const caught: string[] = [];
  const guarded = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      caught.push((err as { code?: string }).code ?? String(err));
      throw err;
    }
  };
  const reader = f.agent("faults.reader", async (ctx) => {
    let read = 0;
    for (;;) {
      const page = await guarded(() => ctx.state(pages).take());
      if (!page) return read;
      await guarded(() => ctx.state(visits).write("pages", 1));
      await guarded(() => ctx.state(seen).write("ids", page.id));
      await guarded(() =>
        ctx.state(outline).update("toc", (cur) => ({
          ...((cur as Record<string, boolean> | undefined) ?? {}),
          [page.id]: true,
        })),
      );
      await guarded(() => ctx.state(pages).done(page.id));
      read++;
    }
  });
  try {
    faulty.enabled = false;
    await regionState(f, pages, { actor: "seed" }).put(
      Array.from({ length: ITEMS }, (_, i) => ({ id: `p${i}`, value: { n: i } })),
    );
    const ids = [];
    for (let i = 0; i < RUNS; i++) ids.push((await f.start(reader, null)).id);
    faulty.enabled = true;
    await new Promise((r) => setTimeout(r, 1500));
    faulty.enabled = false;
    const runs = await settleAll(f, ids, 60_000);
    const ctx = `${label}, seed ${SEED}, faults injected: ${JSON.stringify(Object.fromEntries(faulty.injected))}`;
    assert.ok(
      [...faulty.injected.keys()].some((k) => k.includes("State") || k.includes("Claim")),
      `state calls were faulted (${ctx})`,
    );
    assert.deepEqual(
      runs.filter((r) => r.status !== "completed").map((r) => `${r.id} ${r.status}`),
      [],
      `every run completes (${ctx})`,
    );
    assert.deepEqual(caught, [], `agent code saw no infrastructure error (${ctx})`);
    const outside = (r: Parameters<typeof regionState>[1]) => regionState(f, r, { actor: "test" });
    assert.equal(
      (await outside(visits).read("pages"))?.value,
      ITEMS,
      `each page counted once (${ctx})`,
    );
    const ids2 = (await outside(seen).read("ids"))?.value as string[];
    assert.equal(ids2.length, ITEMS, `each page appended once (${ctx}): ${ids2.join(" ")}`);
    assert.equal(new Set(ids2).size, ITEMS, `no page appended twice (${ctx})`);
    const toc = (await outside(outline).read("toc"))?.value as Record<string, boolean>;
    assert.equal(Object.keys(toc).length, ITEMS, `every page in the outline (${ctx})`);
    const items = await faulty.inner.listClaimItems("faults.pages");
    assert.deepEqual(
      items.filter((i) => i.status !== "done").map((i) => `${i.id} ${i.status}`),
      [],
      `every page done (${ctx})`,
    );
  } finally {
    await f.close();
    await faulty.inner.close();
  }
}

describe("shared state under store faults", () => {
  it("failing state calls and commits: no update lost or applied twice, agents see nothing", async () => {
    await stateUnderFaults({ rate: 0.08, mode: "error" }, "store errors");
  });

  it("state writes that land but lose their reply are not applied again", async () => {
    await stateUnderFaults({ rate: 0.1, mode: "ambiguous" }, "replies lost");
  });
});

const pgSkip = await postgresSkipReason();

describe("shared state under store faults, PostgreSQL", pgSkip ? { skip: pgSkip } : {}, () => {
  for (const [mode, rate] of [
    ["error", 0.08],
    ["ambiguous", 0.1],
  ] as const)
    it(`${mode} faults: no update lost or applied twice, agents see nothing`, async () => {
      const db = await freshDatabase();
      try {
        await stateUnderFaults(
          { rate, mode },
          `postgres, ${mode}`,
          await PostgresStore.open(db.url),
        );
      } finally {
        await db.drop();
      }
    });
});
