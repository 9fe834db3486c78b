import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import pg from "pg";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { PostgresStore } from "../src/store/postgres/PostgresStore.js";
import { CHANNEL } from "../src/store/postgres/notify.js";
import { fitsOneCommit } from "../src/store/postgres/oneCommit.js";
import { prepared } from "../src/store/postgres/sql.js";
import { applyStepBatch, stepStatement } from "../src/store/postgres/stepCommit.js";
import type { Commit, EffectUpdate, NewEvent, StatusChange } from "../src/store/types.js";
import { propertyParams } from "./helpers/property.js";

/**
 * PostgreSQL writes a batch of step commits with one statement (values in
 * arrays, unnested); a commit alone in its batch with one of its own
 * (oneCommit.ts: each value bound on its own, or a plain INSERT for a lone
 * event). They must do exactly the same: whether the fence held, the
 * events, effect states and run row written, the notifications sent. Both
 * are applied to the same starting state, for commits and states drawn at
 * random.
 */

const skip = await postgresSkipReason();
const RUN = "run-1";

const json = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.constantFrom("", "a", "é", 'quote "', "back\\slash"),
  fc.record({ n: fc.integer(), tag: fc.constantFrom("a", "b") }),
);

const event: fc.Arbitrary<NewEvent> = fc.record(
  {
    type: fc.constantFrom("step.completed", "effect.intent", "run.waiting"),
    step: fc.constantFrom("0", "1", "2"),
    data: json,
  },
  { requiredKeys: ["type", "data"] },
);

const effect: fc.Arbitrary<EffectUpdate> = fc.record(
  {
    key: fc.constantFrom("k0", "k1", "k2"),
    runId: fc.constant(RUN),
    step: fc.constantFrom("0", "1"),
    tool: fc.constantFrom("t", "u"),
    state: fc.constantFrom("intent", "committed", "failed", "unknown"),
    result: json,
  },
  { requiredKeys: ["key", "runId", "step", "tool", "state"] },
);

const status: fc.Arbitrary<StatusChange> = fc.record(
  {
    status: fc.constantFrom("waiting", "pending", "completed", "failed", "parked"),
    result: json,
    error: fc.option(fc.record({ name: fc.constant("E"), message: fc.string({ maxLength: 5 }) }), {
      nil: null,
    }),
    wakeAt: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: null }),
  },
  { requiredKeys: ["status"] },
);

const anyCommit: fc.Arbitrary<Commit> = fc
  .record({
    events: fc.array(event, { maxLength: 3 }),
    effects: fc.uniqueArray(effect, { maxLength: 3, selector: (e) => `${e.tool}/${e.key}` }),
    status: fc.option(status, { nil: undefined }),
    release: fc.boolean(),
    token: fc.constantFrom("tok", "stale"),
    requireNotCancelled: fc.boolean(),
    deferFlush: fc.boolean(),
  })
  .map((c) => ({
    runId: RUN,
    fence: c.requireNotCancelled
      ? { leaseToken: c.token, requireNotCancelled: true }
      : { leaseToken: c.token },
    events: c.events,
    ...(c.effects.length > 0 ? { effects: c.effects } : {}),
    ...(c.status ? { status: c.status } : {}),
    ...(c.release ? { release: true } : {}),
    ...(c.deferFlush ? { deferFlush: true } : {}),
  }));

/** A read step's commit: one event under the lease, nothing else (a statement of its own). */
const readStep: fc.Arbitrary<Commit> = fc
  .record({ event, token: fc.constantFrom("tok", "stale"), requireNotCancelled: fc.boolean() })
  .map((c) => ({
    runId: RUN,
    fence: { leaseToken: c.token, ...(c.requireNotCancelled ? { requireNotCancelled: true } : {}) },
    events: [c.event],
  }));

const commit = fc.oneof(anyCommit, readStep);

/** What the run looks like before the commit. */
const world = fc.record({
  cancelRequested: fc.boolean(),
  wakeRequested: fc.boolean(),
  /** An effect row another step already holds: an upsert of that key must leave it alone. */
  heldKey: fc.option(fc.constantFrom("k0", "k1"), { nil: undefined }),
});

type World = typeof world extends fc.Arbitrary<infer W> ? W : never;

describe("PostgreSQL step commit statements", skip ? { skip } : {}, () => {
  let db: { url: string; drop: () => Promise<void> };
  let client: pg.Client;
  let pool: pg.Pool;
  let listener: pg.Client;
  const heard: string[] = [];
  before(async () => {
    db = await freshDatabase();
    await (await PostgresStore.open(db.url, { listen: false })).close();
    client = new pg.Client({ connectionString: db.url });
    pool = new pg.Pool({ connectionString: db.url, max: 1 });
    listener = new pg.Client({ connectionString: db.url });
    await Promise.all([client.connect(), listener.connect()]);
    listener.on("notification", (n) => heard.push(n.payload ?? ""));
    await listener.query(`LISTEN ${CHANNEL}`);
  });
  after(async () => {
    await listener?.end();
    await pool?.end();
    await client?.end();
    await db?.drop();
  });

  async function reset(w: World): Promise<void> {
    await client.query("DELETE FROM events; DELETE FROM effects; DELETE FROM runs");
    await client.query(
      `INSERT INTO runs (id, agent, status, input, created_at, updated_at, lease_owner, lease_token,
         lease_expires_at, cancel_requested, wake_requested)
       VALUES ($1, 'a', 'running', 'null', 1, 1, 'w', 'tok', 9999999999999, $2, $3)`,
      [RUN, w.cancelRequested, w.wakeRequested],
    );
    if (w.heldKey)
      await client.query(
        `INSERT INTO effects (key, run_id, step, tool, state, result, updated_at)
         VALUES ($1, 'other-run', '9', 't', 'committed', '"theirs"', 1)`,
        [w.heldKey],
      );
  }

  /** Writes the commit on the state `w`, and reads back everything a step commit may touch. */
  async function outcome(w: World, write: () => Promise<number>) {
    await reset(w);
    heard.length = 0;
    const written = await write();
    // A notification sent at commit reaches the listener after the reply: a round trip on its
    // connection, after ours committed, delivers everything sent before it.
    await listener.query("SELECT 1");
    const events = await client.query("SELECT run_id, type, step, data FROM events ORDER BY id");
    const effects = await client.query(
      "SELECT tool, key, run_id, step, state, result FROM effects ORDER BY tool, key",
    );
    const run = await client.query(
      `SELECT status, result, error, wake_at, lease_owner, lease_token, lease_expires_at,
         cancel_requested, wake_requested FROM runs`,
    );
    return {
      written,
      events: events.rows,
      effects: effects.rows,
      run: run.rows,
      notified: [...heard].sort(),
    };
  }

  it("a lone commit's statement does what the batch statement does with a batch of one", async () => {
    await fc.assert(
      fc.asyncProperty(commit, world, async (c, w) => {
        assert.ok(fitsOneCommit(c));
        const lone = await outcome(w, async () => (await applyStepBatch(pool, [c])).size);
        const batch = await outcome(
          w,
          async () => (await pool.query(prepared(stepStatement([c])))).rows.length,
        );
        assert.deepEqual(lone, batch);
      }),
      propertyParams(60),
    );
  });
});
