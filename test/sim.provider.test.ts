import assert from "node:assert/strict";
import { describe, it } from "node:test";
import OpenAI from "openai";
import type { Clock } from "../src/core/clock.js";
import { isFlotillaError } from "../src/core/errors.js";
import { startSimProvider, type SimProvider, type SimProviderOptions } from "../src/sim/index.js";

/** Time stands still unless the test moves it; sleeps return at once. */
function manualClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    sleep: () => Promise.resolve(),
    advance: (ms) => {
      t += ms;
    },
  };
}

async function chat(
  sim: SimProvider,
  key: string,
  content = "hello",
  extra: Record<string, unknown> = {},
): Promise<Response> {
  return fetch(`${sim.openaiBaseURL}/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "sim-small", messages: [{ role: "user", content }], ...extra }),
  });
}

/** Sends n requests one after another and returns each status, or "dropped" when the connection died. */
async function statuses(sim: SimProvider, n: number, key = "k"): Promise<(number | "dropped")[]> {
  const out: (number | "dropped")[] = [];
  for (let i = 0; i < n; i++) {
    try {
      const res = await chat(sim, key, `request ${i}`);
      await res.arrayBuffer();
      out.push(res.status);
    } catch {
      out.push("dropped");
    }
  }
  return out;
}

async function withSim<T>(
  options: SimProviderOptions,
  clock: Clock | undefined,
  fn: (sim: SimProvider) => Promise<T>,
): Promise<T> {
  const sim = await startSimProvider(options, clock ? { clock } : {});
  try {
    return await fn(sim);
  } finally {
    await sim.close();
  }
}

void describe("simulated provider", () => {
  void it("is deterministic: the same seed gives the same faults and the same answers", async () => {
    const options = { seed: 42, faults: { errorRate: 0.2, lostResponseRate: 0.1 } };
    const runA = await withSim(options, undefined, (sim) => statuses(sim, 30));
    const runB = await withSim(options, undefined, (sim) => statuses(sim, 30));
    const runC = await withSim({ ...options, seed: 43 }, undefined, (sim) => statuses(sim, 30));
    assert.deepEqual(runA, runB);
    assert.notDeepEqual(runA, runC);
    assert.ok(
      runA.some((s) => s === "dropped") && runA.some((s) => typeof s === "number" && s >= 500),
    );

    const answer = (sim: SimProvider): Promise<unknown> =>
      chat(sim, "k", "same question")
        .then((r) => r.json())
        .then((b) => (b as { choices: unknown }).choices);
    assert.deepEqual(
      await withSim({ seed: 9 }, undefined, answer),
      await withSim({ seed: 9 }, undefined, answer),
    );
  });

  void it("injects errors at the configured rate and counts every request it received", async () => {
    await withSim({ seed: 1, faults: { errorRate: 0.5 } }, undefined, async (sim) => {
      const got = await statuses(sim, 40);
      const errors = got.filter((s) => s !== 200).length;
      const stats = sim.stats();
      assert.equal(stats.requests, 40);
      assert.equal(stats.serverErrors, errors);
      assert.equal(stats.completed, 40 - errors);
      assert.ok(errors > 8 && errors < 32, `${errors} of 40 failed`);
    });
  });

  void it("bills lost responses: the work is done, the caller never hears of it", async () => {
    await withSim({ faults: { lostResponseRate: 1 } }, undefined, async (sim) => {
      assert.deepEqual(await statuses(sim, 2), ["dropped", "dropped"]);
      const stats = sim.stats();
      assert.equal(stats.lostResponses, 2);
      assert.equal(stats.completed, 0);
      assert.ok(stats.outputTokens > 0 && stats.inputTokens > 0);
    });
  });

  void it("enforces RPM per key with real headers, 429 and retry-after, and refills over time", async () => {
    const clock = manualClock();
    await withSim({ limits: { rpm: 3 }, keys: { big: { rpm: 100 } } }, clock, async (sim) => {
      const ok = await chat(sim, "a");
      assert.equal(ok.headers.get("x-ratelimit-limit-requests"), "3");
      assert.equal(ok.headers.get("x-ratelimit-remaining-requests"), "2");
      assert.equal(ok.headers.get("x-ratelimit-reset-requests"), "20s");
      assert.deepEqual(await statuses(sim, 3, "a"), [200, 200, 429]);
      const limited = await chat(sim, "a");
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get("retry-after"), "20");
      assert.equal(limited.headers.get("retry-after-ms"), "20000");
      assert.equal(
        ((await limited.json()) as { error: { code: string } }).error.code,
        "rate_limit_exceeded",
      );

      assert.deepEqual(await statuses(sim, 3, "b"), [200, 200, 200], "each key has its own bucket");
      assert.equal((await chat(sim, "big")).headers.get("x-ratelimit-limit-requests"), "100");

      clock.advance(20_000);
      assert.deepEqual(await statuses(sim, 2, "a"), [200, 429]);
      const stats = sim.stats();
      assert.equal(stats.keys.a?.rateLimited, 3);
      assert.equal(stats.keys.a?.byStatus["429"], 3);
      assert.equal(stats.keys.b?.rateLimited, 0);
    });
  });

  void it("reserves max_tokens at admission and gives back what the answer did not use", async () => {
    const clock = manualClock();
    await withSim(
      { limits: { tpm: 1000 }, output: { minTokens: 10, maxTokens: 10 } },
      clock,
      async (sim) => {
        // "hi" is 4 input tokens; 500 reserved for the answer, 10 used.
        const first = await chat(sim, "k", "hi", { max_completion_tokens: 500 });
        assert.equal(first.status, 200);
        assert.equal(first.headers.get("x-ratelimit-limit-tokens"), "1000");
        assert.equal(first.headers.get("x-ratelimit-remaining-tokens"), "986");
        const tooBig = await chat(sim, "k", "hi", { max_completion_tokens: 990 });
        assert.equal(tooBig.status, 429, "4 + 990 does not fit in 986");
        assert.equal(tooBig.headers.get("retry-after-ms"), "480", "8 tokens at 1000/min");
        assert.equal((await chat(sim, "k", "hi", { max_completion_tokens: 900 })).status, 200);
        clock.advance(60_000);
        assert.equal(
          (await chat(sim, "k", "hi", { max_completion_tokens: 990 })).headers.get(
            "x-ratelimit-remaining-tokens",
          ),
          "986",
          "a minute refills the whole bucket, and no more",
        );
      },
    );
  });

  void it("bills output beyond the reservation as debt the key waits off", async () => {
    const clock = manualClock();
    const sim = await startSimProvider(
      { limits: { tpm: 200 }, output: { minTokens: 10, maxTokens: 10 } },
      { clock, respond: () => ({ text: "long", outputTokens: 300 }) },
    );
    try {
      // No max_tokens: 10 (the longest default answer) is reserved, 300 produced.
      assert.equal((await chat(sim, "k", "hi")).status, 200);
      const limited = await chat(sim, "k", "hi");
      assert.equal(limited.status, 429);
      // Level 200 − 4 − 300 = −104; 118 more are needed for the next 4 + 10.
      assert.equal(limited.headers.get("retry-after-ms"), String(Math.ceil((118 * 60_000) / 200)));
    } finally {
      await sim.close();
    }
  });

  void it("gives a request's reservation back when it fails before answering", async () => {
    await withSim(
      { limits: { tpm: 1000 }, faults: { errorRate: 1, errorStatuses: [500] } },
      manualClock(),
      async (sim) => {
        const ask = () => chat(sim, "k", "hi", { max_completion_tokens: 900 });
        // Were the first 904 kept, the second would not fit.
        assert.deepEqual([(await ask()).status, (await ask()).status], [500, 500]);
      },
    );
  });

  void it("answers with the outage status inside scripted windows, relative to start", async () => {
    const clock = manualClock();
    await withSim({ outages: [[1000, 2000]] }, clock, async (sim) => {
      assert.equal((await chat(sim, "k")).status, 200);
      clock.advance(1000);
      assert.equal((await chat(sim, "k")).status, 503);
      clock.advance(999);
      assert.equal((await chat(sim, "k")).status, 503);
      clock.advance(1);
      assert.equal((await chat(sim, "k")).status, 200);
      sim.setOutage(true);
      assert.equal((await chat(sim, "k")).status, 503);
      sim.setOutage(false);
      assert.equal(sim.stats().outageRejections, 3);
    });
  });

  void it("serves stats, reset and outage control over HTTP for other processes", async () => {
    await withSim({}, undefined, async (sim) => {
      await statuses(sim, 2, "x");
      const stats = (await (await fetch(`${sim.url}/_sim/stats`)).json()) as { requests: number };
      assert.equal(stats.requests, 2);
      const outage = await fetch(`${sim.url}/_sim/outage`, {
        method: "POST",
        body: JSON.stringify({ on: true }),
      });
      assert.equal(outage.status, 200);
      assert.equal((await chat(sim, "x")).status, 503);
      await fetch(`${sim.url}/_sim/reset`, { method: "POST" });
      assert.equal(sim.stats().requests, 0);
      assert.equal((await chat(sim, "x")).status, 200, "reset ends a forced outage");
    });
  });

  void it("speaks the OpenAI wire format well enough for the official SDK, with the SDK's retries off", async () => {
    await withSim({ seed: 2 }, undefined, async (sim) => {
      const client = new OpenAI({ apiKey: "sdk", baseURL: sim.openaiBaseURL, maxRetries: 0 });
      const res = await client.chat.completions.create({
        model: "sim-small",
        messages: [{ role: "user", content: "hi" }],
      });
      assert.equal(res.object, "chat.completion");
      assert.equal(
        res.usage?.total_tokens,
        (res.usage?.prompt_tokens ?? 0) + (res.usage?.completion_tokens ?? 0),
      );
    });
  });

  void it("honours max_tokens by truncating and reporting finish_reason length", async () => {
    await withSim({ output: { minTokens: 40, maxTokens: 40 } }, undefined, async (sim) => {
      const res = await chat(sim, "k", "hello", { max_completion_tokens: 5 });
      const body = (await res.json()) as {
        choices: { finish_reason: string }[];
        usage: { completion_tokens: number };
      };
      assert.equal(body.choices[0]?.finish_reason, "length");
      assert.equal(body.usage.completion_tokens, 5);
    });
  });

  void it("rejects bad options naming the field and the value", async () => {
    await assert.rejects(
      startSimProvider({ faults: { errorRate: 1.5 } }),
      (err: unknown) =>
        isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT") &&
        /faults\.errorRate/.test(err.message) &&
        /1\.5/.test(err.message),
    );
    await assert.rejects(
      startSimProvider({ outages: [[500, 100]] }),
      (err: unknown) =>
        isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT") && /outages\.0/.test(err.message),
    );
  });
});
