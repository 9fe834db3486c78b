import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { redisSkipReason, redisUrl } from "../bench/support/redis.js";
import type { Charge } from "../src/fleet/gcra.js";
import { FallbackLimiter } from "../src/fleet/limiter/fallback.js";
import { PostgresLimiter, readPostgresReports } from "../src/fleet/limiter/postgres.js";
import { RedisLimiter, readRedisReports } from "../src/fleet/limiter/redis.js";
import type { LimiterBackend } from "../src/fleet/limiter/types.js";
import { openFleet } from "../src/fleet/open.js";
import { manualClock } from "./fleet.clock.js";

/** One a minute: in a test's lifetime, only the first reservation of a burst can succeed. */
const slow: Charge = { bucket: "requests", units: 1, intervalMs: 60_000, toleranceMs: 0 };
const tokens: Charge = { bucket: "tokens", units: 10, intervalMs: 6_000, toleranceMs: 0 };

function sharedSuite(
  name: string,
  skip: () => Promise<string | undefined>,
  setup: () => Promise<{ url: string; drop: () => Promise<void> }>,
  open: (url: string) => Promise<LimiterBackend>,
  reports: (url: string) => Promise<{ reporter: string }[]>,
): void {
  describe(`shared limiter: ${name}`, async () => {
    const reason = await skip();
    let db: { url: string; drop: () => Promise<void> } | undefined;
    let a: LimiterBackend;
    let b: LimiterBackend;
    before(async () => {
      if (reason) return;
      db = await setup();
      a = await open(db.url);
      b = await open(db.url);
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await db?.drop();
    });
    const key = () => `dep-${randomBytes(4).toString("hex")}`;

    it(
      "admits one of a concurrent burst from two processes, and tells the rest how long to wait",
      { skip: reason ?? false },
      async () => {
        const k = key();
        const waits = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).reserve(k, [slow, tokens])),
        );
        assert.equal(waits.filter((w) => w === 0).length, 1);
        for (const w of waits.filter((x) => x > 0)) assert.ok(w > 50_000 && w <= 60_000, String(w));
      },
    );

    it(
      "takes all buckets or none, refunds, and keeps the floor the provider set",
      { skip: reason ?? false },
      async () => {
        const k = key();
        assert.equal(await a.reserve(k, [tokens]), 0);
        // The request bucket is free but the token bucket is not: nothing is taken.
        assert.ok((await b.reserve(k, [slow, tokens])) > 0);
        assert.equal(await a.reserve(k, [slow]), 0);
        await b.settle(k, [{ ...tokens, units: -10, floorMs: 0 }]);
        assert.equal(await a.reserve(k, [tokens]), 0, "the refund made room");
        await a.settle(k, [{ ...tokens, units: -10, floorMs: 30_000 }]);
        const wait = await b.reserve(k, [tokens]);
        assert.ok(wait > 25_000 && wait <= 30_000, `closed for ${wait}`);
      },
    );

    it(
      "publishes each process's metrics and counts the live ones",
      { skip: reason ?? false },
      async () => {
        assert.equal(await a.publish("proc-a", { hello: 1 }, 10_000), 1);
        assert.equal(await b.publish("proc-b", { hello: 2 }, 10_000), 2);
        const seen = (await reports(db!.url)).map((r) => r.reporter).sort();
        assert.deepEqual(seen, ["proc-a", "proc-b"]);
      },
    );
  });
}

// One Redis serves every test run: each run gets its own key prefix (keys expire on their own).
const prefix = `flotilla:test:${randomBytes(4).toString("hex")}:`;
sharedSuite(
  "Redis",
  redisSkipReason,
  () => Promise.resolve({ url: redisUrl(), drop: () => Promise.resolve() }),
  (url) => RedisLimiter.open(url, { prefix }),
  (url) => readRedisReports(url, 60_000, prefix),
);

sharedSuite(
  "PostgreSQL",
  postgresSkipReason,
  freshDatabase,
  (url) => PostgresLimiter.open(url),
  (url) => readPostgresReports(url, 60_000),
);

describe("fallback when Redis is unreachable", () => {
  it("limits on a conservative local share and says so, instead of failing open", async () => {
    const clock = manualClock(0);
    const said: [boolean, string][] = [];
    const down = await RedisLimiter.open("redis://127.0.0.1:1", { timeoutMs: 200 });
    const limiter = new FallbackLimiter(down, {
      clock,
      share: () => 0.5,
      retryMs: 5000,
      onChange: (degraded, reason) => said.push([degraded, reason]),
    });
    const rpm60: Charge = { bucket: "requests", units: 1, intervalMs: 1000, toleranceMs: 0 };
    assert.equal(await limiter.reserve("d", [rpm60]), 0);
    assert.equal(limiter.degraded, true);
    // Half of 60/min: the next request is 2 s away, not 1 s.
    assert.equal(await limiter.reserve("d", [rpm60]), 2000);
    assert.equal(said.length, 1);
    assert.equal(said[0]?.[0], true);
    assert.match(said[0]?.[1] ?? "", /redis limiter unreachable.*local share of 0\.50/);
    await limiter.close();
  });

  it("opens a scheduler on an unreachable Redis without failing, and reports itself degraded", async () => {
    const warnings: string[] = [];
    const fleet = await openFleet({
      limiter: "redis://127.0.0.1:1",
      publishEveryMs: 0,
      warn: (m) => warnings.push(m),
      dependencies: { d: { rpm: 600 } },
    });
    const permit = await fleet.acquire(
      { dependency: "d", tenant: "t", estimate: { inputTokens: 1, outputTokens: 1 } },
      new AbortController().signal,
    );
    permit.release({ outcome: "ok" });
    const snap = fleet.snapshot();
    assert.equal(snap.backend, "redis");
    assert.equal(snap.degraded, true);
    assert.ok(warnings.some((w) => /unreachable/.test(w)));
    await fleet.close();
  });

  it("rejects a limiter that is neither memory, Redis nor PostgreSQL, naming the field", async () => {
    await assert.rejects(
      openFleet({ limiter: "mysql://x" }),
      /fleet options\.limiter: must be "memory", a redis:\/\/ URL or a postgres:\/\/ URL \(received "mysql:\/\/x"\)/,
    );
  });
});
