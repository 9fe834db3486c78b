import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { exited, startProcess } from "../bench/support/processes.js";
import type { Flotilla } from "../src/runtime/Flotilla.js";
import type { Store } from "../src/store/types.js";
import { SqliteStore } from "../src/store/sqlite/SqliteStore.js";
import {
  assertUnharmed,
  faultedFleet,
  openOn,
  pendingRuns,
  SEED,
  settleAll,
  Witness,
} from "./helpers/faultFleet.js";
import { tempStore } from "./helpers/tempStore.js";

/**
 * Faults raised inside SQLite itself, not by a fault layer around the store:
 * a disk that fills up, a write lock another process holds past the busy
 * timeout. They strike wherever the store happens to be: a step's lone
 * commit, a batch, a claim, a lease renewal.
 */

/** The store's SQLite error codes, as the runtime received them. */
function observed(store: Store): { store: Store; codes: string[] } {
  const codes: string[] = [];
  const seen = new Proxy(store, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const out: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (out instanceof Promise)
          out.catch((err: unknown) => {
            const code = (err as { code?: unknown }).code;
            if (typeof code === "string" && code.startsWith("SQLITE_")) codes.push(code);
          });
        return out;
      };
    },
  });
  return { store: seen, codes };
}

/** The store's own connection: a pragma on it is how a full disk is made without filling one. */
function connectionOf(store: SqliteStore): Database.Database {
  return (store as unknown as { db: Database.Database }).db;
}

const HOLDER = join(import.meta.dirname, "fixtures", "holdWriteLock.ts");

async function untilCharged(witness: Witness, charges: number): Promise<void> {
  const until = Date.now() + 30_000;
  while (witness.performed.size < charges) {
    assert.ok(Date.now() < until, `the fleet made ${witness.performed.size} charges in 30 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function fleetThrough(
  path: string,
  fault: (ctx: { store: SqliteStore; witness: Witness }) => Promise<void>,
  expected: { code: string; label: string },
): Promise<void> {
  const inner = SqliteStore.open(path);
  const { store, codes } = observed(inner);
  let f: Flotilla | undefined;
  try {
    f = await openOn(store);
    const witness = new Witness();
    const caught: string[] = [];
    const agent = faultedFleet(f, witness, caught);
    const ids = [];
    for (let i = 0; i < 8; i++) ids.push((await f.start(agent, `r${i}`)).id);
    await fault({ store: inner, witness });
    const runs = await settleAll(f, ids, 60_000);
    const context = `${expected.label}, seed ${SEED}, store errors: ${codes.join(" ") || "none"}`;
    assert.ok(codes.includes(expected.code), `SQLite raised ${expected.code} (${context})`);
    assertUnharmed(runs, { runs: ids.length, witness, caught, context });
  } finally {
    await f?.close();
    await inner.close();
  }
}

describe("SQLite engine faults", () => {
  it("a disk that fills up mid-run never reaches agent code, never fails a run, never repeats an effect", async () => {
    await fleetThrough(
      tempStore(),
      async ({ store, witness }) => {
        await untilCharged(witness, 6);
        const db = connectionOf(store);
        // The file may not grow by one page: the next write that needs one fails with SQLITE_FULL.
        const pages = db.pragma("page_count", { simple: true }) as number;
        db.pragma(`max_page_count = ${pages}`);
        await new Promise((r) => setTimeout(r, 800));
        db.pragma("max_page_count = 4294967294");
      },
      { code: "SQLITE_FULL", label: "disk full for 800 ms" },
    );
  });

  it("a write lock held by another process past the busy timeout never fails a run", async () => {
    const path = tempStore();
    await fleetThrough(
      path,
      async ({ witness }) => {
        await untilCharged(witness, 6);
        // Another process takes the write lock and keeps it past the store's busy timeout
        // (10 s): the store's writes fail with SQLITE_BUSY until it lets go.
        await exited(await startProcess(HOLDER, [path, "11000"]));
      },
      { code: "SQLITE_BUSY", label: "write lock held 11 s" },
    );
  });
});

describe("SQLite engine faults in a batch", () => {
  it("a commit that fills the disk inside a batch: every commit's outcome says whether it was written", async () => {
    const store = SqliteStore.open(tempStore());
    try {
      const ids = await pendingRuns(store, 6);
      const db = connectionOf(store);
      db.pragma(`max_page_count = ${db.pragma("page_count", { simple: true }) as number}`);
      // One batch: the fourth commit needs pages the file may not grow by; the others fit.
      const outcomes = await Promise.allSettled(
        ids.map((id, i) =>
          store.commit({
            runId: id,
            fence: { unleasedIn: ["pending"] },
            events: [{ type: "note", data: { text: i === 3 ? "x".repeat(64_000) : "fine" } }],
          }),
        ),
      );
      db.pragma("max_page_count = 4294967294");
      for (const [i, id] of ids.entries()) {
        const written = (await store.readJournal(id)).some((e) => e.type === "note");
        assert.equal(
          written,
          outcomes[i]?.status === "fulfilled",
          `commit ${i} ${outcomes[i]?.status}, yet ${written ? "written" : "not written"}`,
        );
      }
      const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [String(o.reason)] : []));
      assert.ok(
        refused.some((r) => r.includes("full")),
        `the big commit was refused, for a full disk: ${refused.join("; ")}`,
      );
    } finally {
      await store.close();
    }
  });

  it("a state write that fills the disk inside a batch: every write's outcome says whether it was written", async () => {
    const store = SqliteStore.open(tempStore());
    try {
      const at = (i: number) => ({ region: "notes", scope: "", key: `k${i}` });
      const db = connectionOf(store);
      db.pragma(`max_page_count = ${db.pragma("page_count", { simple: true }) as number}`);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          store.writeState(
            at(i),
            {
              kind: "set",
              op: "set",
              input: i === 3 ? "x".repeat(64_000) : "fine",
              verified: false,
              ifVersion: 0,
            },
            { actor: "test" },
          ),
        ),
      );
      db.pragma("max_page_count = 4294967294");
      for (let i = 0; i < outcomes.length; i++) {
        const written = (await store.readState(at(i))) !== undefined;
        const outcome = outcomes[i];
        const ok = outcome?.status === "fulfilled" && outcome.value.ok;
        assert.equal(
          written,
          ok,
          `write ${i} ${ok ? "succeeded" : "failed"}, yet ${written ? "written" : "not written"}`,
        );
      }
      assert.ok(outcomes.some((o) => o.status === "rejected" && String(o.reason).includes("full")));
    } finally {
      await store.close();
    }
  });
});
