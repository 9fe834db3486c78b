import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isFlotillaError, type LlmMessage } from "../src/index.js";
import {
  fingerprint,
  LoopGuard,
  RequestKey,
  DEFAULT_LOOP_THRESHOLDS,
} from "../src/deadletter/loops.js";
import type { Flotilla, FlotillaOptions } from "../src/runtime/Flotilla.js";
import type { RunContext } from "../src/runtime/RunContext.js";
import { openFlotilla, ScriptedProvider, settle, type Script } from "./helpers/deadletter.js";

const user = (content: string): LlmMessage => ({ role: "user", content });
const assistant = (content: string): LlmMessage => ({ role: "assistant", content });

const WORDS =
  "fleet harbour dawn signal lantern river ledger copper orchard tide meadow ember".split(" ");

/** A different sentence for every n: a model that keeps writing something new. */
function fresh(n: number): string {
  const out: string[] = [];
  let x = n * 7919 + 17;
  for (let i = 0; i < 12; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.push(WORDS[x % WORDS.length] as string);
  }
  return `Part ${n}: ${out.join(" ")}.`;
}

/** Two reviewers' answers in a re-check loop: the same verdict, a few phrasings each. */
const SOLVER = [
  "I re-checked my answer: the refund window is 30 days from delivery, and order 1182 qualifies for a refund.",
  "I have re-checked it. The refund window is 30 days from delivery and order 1182 qualifies.",
  "Re-checked: refunds are accepted within 30 days of delivery, so order 1182 qualifies.",
];
const CHECKER = [
  "The solver's answer is correct: 30 days from delivery, and order 1182 qualifies. Solver, please confirm.",
  "I checked the solver's answer and it is correct; order 1182 qualifies within the 30-day window. Please confirm.",
  "Correct: the window is 30 days from delivery and order 1182 qualifies. Please confirm once more.",
];
const reviewers: Script = (req, n) => {
  const ask = req.messages.at(-1)?.content ?? "";
  const variants = ask.startsWith("The checker") ? SOLVER : CHECKER;
  // Never twice the same text, as a sampled model: only the pass number differs.
  return `${variants[(n * 5) % variants.length]} (pass ${n})`;
};

/** One agent playing both reviewers: each turn quotes the other's last answer back to the model. */
async function reviewLoop(ctx: RunContext, pauseAt?: number): Promise<never> {
  let answer = "I have not answered yet.";
  for (let i = 0; ; i++) {
    if (i === pauseAt) await ctx.sleep(20);
    const ask =
      i % 2 === 0
        ? `The checker replied: "${answer}". Please re-check your answer to: what is the refund window for order 1182?`
        : `The solver answered: "${answer}". Please re-check it and ask the solver to confirm.`;
    const r = await ctx.llm({
      model: "m",
      messages: [{ role: "system", content: "You are one of two reviewers." }, user(ask)],
    });
    answer = r.message.content ?? "";
  }
}

/** Runs `body` on a fresh Flotilla and closes it, even when an assertion fails. */
async function withFlotilla<T>(
  provider: ScriptedProvider,
  body: (f: Flotilla) => Promise<T>,
  options: Partial<FlotillaOptions> = {},
): Promise<T> {
  const f = await openFlotilla(provider, options);
  try {
    return await body(f);
  } finally {
    await f.close();
  }
}

async function runToEnd(f: Flotilla, agent: Parameters<Flotilla["start"]>[0]) {
  const run = await f.start(agent, null);
  const error = await settle(f, run.id);
  const status = (await f.getRun(run.id)).status;
  const [entry] = await f.listDeadLetters({ runId: run.id });
  return { status, error, entry };
}

/** Sends the same instruction ten times in one growing conversation. */
function namer(f: Flotilla) {
  return f.agent("namer", async (ctx) => {
    const history: LlmMessage[] = [];
    for (let i = 0; i < 10; i++) {
      history.push(user("Suggest one more name for the product, with a reason."));
      const r = await ctx.llm({ model: "m", messages: history });
      history.push(assistant(r.message.content ?? ""));
    }
    return history.length;
  });
}

describe("loop detectors: benign patterns run to the end", () => {
  it('a conversation told "Continue." every turn, its answers growing its history', async () => {
    // Every other answer is the same short one: the same last message and the same answer,
    // six times, but never the same request, since the history grew in between.
    const provider = new ScriptedProvider((_r, n) => (n % 2 === 0 ? "OK, going on." : fresh(n)));
    await withFlotilla(provider, async (f) => {
      const agent = f.agent("writer", async (ctx) => {
        const history: LlmMessage[] = [user("Write a story in twelve parts.")];
        for (let turn = 0; turn < 12; turn++) {
          const r = await ctx.llm({ model: "m", messages: history });
          history.push(assistant(r.message.content ?? ""), user("Continue."));
        }
        return history.length;
      });
      const { status, entry } = await runToEnd(f, agent);
      assert.equal(entry, undefined);
      assert.equal(status, "completed");
      assert.equal(provider.calls, 12);
    });
  });

  it("a status poll whose result changes, each step asking the model what to do", async () => {
    // The model answers the same words every time: the asks carry the new percentage.
    const provider = new ScriptedProvider(() => "The job is still running; wait and check again.");
    await withFlotilla(provider, async (f) => {
      let polls = 0;
      const status = f.tool("job.status", {
        effect: "read",
        run: async (_a: { job: number }) => ({ done: Math.min(100, ++polls * 15) }),
      });
      const agent = f.agent("poller", async (ctx) => {
        for (;;) {
          const { done } = await ctx.call(status, { job: 7 });
          if (done >= 100) return done;
          await ctx.llm({ model: "m", messages: [user(`The job is at ${done}%. What now?`)] });
        }
      });
      const run = await runToEnd(f, agent);
      assert.equal(run.entry, undefined);
      assert.equal(run.status, "completed");
      assert.equal(polls, 7, "seven polls with the same arguments, every result new");
    });
  });

  it("the same instruction sent ten times, answered differently each time", async () => {
    const provider = new ScriptedProvider((_r, n) => fresh(n));
    await withFlotilla(provider, async (f) => {
      const agent = namer(f);
      const { status, entry } = await runToEnd(f, agent);
      assert.equal(entry, undefined);
      assert.equal(status, "completed");
      assert.equal(provider.calls, 10);
    });
  });

  it("the same instruction answered from one template, a new name each time", async () => {
    const names = "Nimbus Zephyr Kestrel Juniper Halcyon Meridian Tessera Solstice Lumen Cobalt";
    const provider = new ScriptedProvider(
      (_r, n) =>
        `How about "${names.split(" ")[n - 1]}"? It is short, easy to spell and works in every language we sell in.`,
    );
    await withFlotilla(provider, async (f) => {
      const agent = namer(f);
      const { status, entry } = await runToEnd(f, agent);
      assert.equal(entry, undefined);
      assert.equal(status, "completed");
    });
  });

  it("the same answer to new asks: a classifier at work", async () => {
    const provider = new ScriptedProvider(() => "billing");
    await withFlotilla(provider, async (f) => {
      const agent = f.agent("classifier", async (ctx) => {
        for (let t = 0; t < 20; t++)
          await ctx.llm({
            model: "m",
            messages: [
              { role: "system", content: "Classify the ticket: billing, shipping or other." },
              user(`Ticket ${1000 + t}: I was charged twice for order ${5000 + t * 7}.`),
            ],
          });
        return "done";
      });
      const { status, entry } = await runToEnd(f, agent);
      assert.equal(entry, undefined);
      assert.equal(status, "completed");
    });
  });
});

describe("loop detectors: runaways are stopped", () => {
  it("two reviewers re-checking each other inside one agent, within 30 LLM calls", async () => {
    const provider = new ScriptedProvider(reviewers);
    await withFlotilla(provider, async (f) => {
      const { status, error, entry } = await runToEnd(
        f,
        f.agent("reviewers", (ctx) => reviewLoop(ctx)),
      );
      assert.equal(status, "dead-lettered");
      assert.ok(isFlotillaError(error, "FLOTILLA_DEAD_LETTERED"));
      assert.equal(entry?.class, "no-progress");
      assert.equal(entry?.error?.code, "FLOTILLA_NO_PROGRESS");
      assert.equal(entry?.error?.details?.detector, "echo");
      assert.match(entry?.error?.message ?? "", /echoing the run's own answers/);
      assert.ok(provider.calls <= 30, `stopped after ${provider.calls} LLM calls`);
      assert.equal(entry?.context.cost.llmCalls, provider.calls);
    });
  });

  it("the same whole request answered the same way, the fifth time", async () => {
    const provider = new ScriptedProvider(() => "I cannot tell yet.");
    await withFlotilla(provider, async (f) => {
      const agent = f.agent("asker", async (ctx) => {
        for (;;) await ctx.llm({ model: "m", messages: [user("Is the order shipped?")] });
      });
      const { entry } = await runToEnd(f, agent);
      assert.equal(entry?.class, "loop-detected");
      assert.equal(entry?.error?.details?.kind, "repeated-call");
      assert.equal(provider.calls, 5);
    });
  });

  it("an agent that catches the trip cannot carry on: the run still ends at it", async () => {
    const provider = new ScriptedProvider(() => "I cannot tell yet.");
    await withFlotilla(provider, async (f) => {
      const caught: string[] = [];
      const agent = f.agent("stubborn", async (ctx) => {
        for (let i = 0; i < 8; i++) {
          try {
            await ctx.llm({ model: "m", messages: [user("Is the order shipped?")] });
          } catch (err) {
            caught.push((err as { code?: string }).code ?? String(err));
          }
        }
        return "carried on";
      });
      const { status, entry } = await runToEnd(f, agent);
      assert.equal(status, "dead-lettered");
      assert.equal(entry?.class, "loop-detected");
      assert.equal(caught[0], "FLOTILLA_LOOP_DETECTED");
      assert.equal(provider.calls, 5, "no LLM call after the trip");
    });
  });

  it("trips at the same step when the run is re-executed from its journal mid-loop", async () => {
    const trip = async (inlineSleepMs: number) => {
      const provider = new ScriptedProvider(reviewers);
      return withFlotilla(
        provider,
        async (f) => {
          let executions = 0;
          const agent = f.agent("reviewers", async (ctx) => {
            executions++;
            // The pause falls inside the streak of echoes, so replay must feed it back.
            return reviewLoop(ctx, 9);
          });
          const { entry } = await runToEnd(f, agent);
          return {
            executions,
            llmCalls: provider.calls,
            steps: entry?.context.steps,
            checkpoint: entry?.context.checkpoint?.step,
            code: entry?.error?.code,
            echoes: entry?.error?.details?.steps,
          };
        },
        { inlineSleepMs },
      );
    };
    const inMemory = await trip(60_000);
    const resumed = await trip(0);
    assert.equal(inMemory.executions, 1);
    assert.ok(
      resumed.executions >= 2,
      "the sleep suspended the run and a new execution replayed it",
    );
    assert.ok(inMemory.llmCalls > 10, "the trip comes after the pause");
    const { executions: _a, ...expected } = inMemory;
    const { executions: _b, ...actual } = resumed;
    assert.deepEqual(actual, expected);
  });
});

describe("loop detectors: units", () => {
  it("fingerprints the whole request: the same last message after a different history differs", () => {
    const a = fingerprint("llm", "m", { model: "m", messagesRef: "head-1" });
    assert.equal(a, fingerprint("llm", "m", { messagesRef: "head-1", model: "m" }));
    assert.notEqual(a, fingerprint("llm", "m", { model: "m", messagesRef: "head-2" }));
    assert.notEqual(fingerprint("tool", "t", { q: "A" }), fingerprint("tool", "t", { q: "a" }));
  });

  it("counts a repeat only when the result repeats too", () => {
    const guard = new LoopGuard("r", DEFAULT_LOOP_THRESHOLDS, [], "a");
    for (let i = 0; i < 20; i++) guard.outcome({ fp: "tool:poll:x", value: { done: i } });
    for (let i = 0; i < 4; i++) guard.outcome({ fp: "tool:get:y", value: { v: 1 } });
    assert.throws(
      () => guard.outcome({ fp: "tool:get:y", value: { v: 1 } }),
      (e: unknown) => isFlotillaError(e, "FLOTILLA_LOOP_DETECTED") && e.details.times === 5,
    );
  });

  it("keys a tool call by its arguments, and an error carries only their hashed fingerprint", () => {
    const secret = { card: "4111 1111 1111 1111" };
    const long = { text: "x".repeat(200) };
    for (const args of [secret, long]) {
      const key = new RequestKey("tool", "pay", args);
      assert.equal(key.fingerprint, fingerprint("tool", "pay", args));
      assert.equal(new RequestKey("tool", "pay", { ...args }).key, key.key);
    }
    assert.notEqual(
      new RequestKey("tool", "pay", { card: "1" }).key,
      new RequestKey("tool", "pay", secret).key,
    );
    const guard = new LoopGuard("r", DEFAULT_LOOP_THRESHOLDS, [], "a");
    for (let i = 0; i < 4; i++)
      guard.outcome({ fp: new RequestKey("tool", "pay", secret), value: 1 });
    assert.throws(
      () => guard.outcome({ fp: new RequestKey("tool", "pay", secret), value: 1 }),
      (e: unknown) =>
        isFlotillaError(e, "FLOTILLA_LOOP_DETECTED") &&
        e.details.fingerprint === fingerprint("tool", "pay", secret) &&
        !JSON.stringify(e.toJSON()).includes("4111"),
    );
  });

  it("rejects bad thresholds with a typed error naming the field", async () => {
    await withFlotilla(new ScriptedProvider(), async (f) => {
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ echoOverlap: 1.5 }, /loops\.echoOverlap/],
        [{ echoOverlap: 0 }, /loops\.echoOverlap/],
        [{ echoWindow: 0 }, /loops\.echoWindow/],
        [{ echoedAnswers: 1 }, /loops\.echoedAnswers/],
        [{ echoedAnswers: 2.5 }, /loops\.echoedAnswers/],
        [{ repeatedCalls: "5" }, /loops\.repeatedCalls/],
        [{ echoes: 3 }, /loops/],
      ];
      for (const [loops, field] of bad)
        assert.throws(
          () => f.agent("a", async () => null, { loops: loops as never }),
          (e: unknown) => isFlotillaError(e, "FLOTILLA_INVALID_ARGUMENT") && field.test(e.message),
          JSON.stringify(loops),
        );
      assert.doesNotThrow(() =>
        f.agent("b", async () => null, { loops: { echoedAnswers: 3, echoOverlap: 1 } }),
      );
    });
  });

  it("an agent's own echo threshold applies", async () => {
    const provider = new ScriptedProvider(reviewers);
    await withFlotilla(provider, async (f) => {
      const strict = f.agent("strict", (ctx) => reviewLoop(ctx), { loops: { echoedAnswers: 2 } });
      const { entry } = await runToEnd(f, strict);
      const early = provider.calls;
      provider.calls = 0;
      const loose = f.agent("loose", (ctx) => reviewLoop(ctx), { loops: { echoedAnswers: 10 } });
      await runToEnd(f, loose);
      assert.equal(entry?.class, "no-progress");
      assert.equal(
        provider.calls - early,
        8,
        "eight more echoes before the looser threshold trips",
      );
    });
  });
});
