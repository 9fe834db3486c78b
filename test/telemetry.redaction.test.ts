import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import pg from "pg";
import { FaultyStore } from "../bench/support/faultyStore.js";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import {
  Flotilla,
  isFlotillaError,
  luhn,
  ProviderError,
  Redactor,
  type Json,
} from "../src/index.js";
import type { LlmProvider, LlmRequest, LlmResponse } from "../src/providers/types.js";
import { canonicalJson, sha256 } from "../src/core/json.js";
import { openStore } from "../src/store/open.js";
import type { Commit } from "../src/store/types.js";
import { tempStore } from "./helpers/tempStore.js";

const pgSkip = await postgresSkipReason();

// Seeded secrets, built at run time so this file's own text is no false alarm in a store.
const API_KEY = ["sk", "proj", "Zq8vR2mW4tY6uI0oP3aS5dF7gH9jK1lX"].join("-");
const TOKEN = ["eyJhbGciOiJIUzI1NiJ9", "c2VjcmV0LXBheWxvYWQ", "sig42xyz"].join(".");
const BEARER = `Bearer ${TOKEN}`;
const CARD = ["4539", "1488", "0343", "6467"].join(" ");
/** Every form a secret could be found in: as given, the card's bare digits, the token alone. */
const NEEDLES = [API_KEY, TOKEN, CARD, CARD.replaceAll(" ", ""), "Zq8vR2mW4tY6uI0oP3aS5dF7"];

/** Answers with the secrets, and keeps the messages it was sent. */
class LeakyProvider implements LlmProvider {
  readonly name = "leaky";
  readonly received: string[] = [];
  complete(request: LlmRequest): Promise<LlmResponse> {
    this.received.push(...request.messages.map((m) => m.content ?? ""));
    return Promise.resolve({
      message: { role: "assistant", content: `use ${BEARER} with ${API_KEY}` },
      usage: { inputTokens: 10, outputTokens: 5 },
      model: request.model,
      finishReason: "stop",
    });
  }
}

interface Scenario {
  provider: LeakyProvider;
  /** What each tool was called with. */
  toolGot: Record<string, unknown[]>;
  /** What the agent saw of its step results, once per execution that got that far. */
  seen: unknown[];
  deadLetters: string;
  spans: string;
  result: unknown;
}

/**
 * Runs agents that pass secrets everywhere a payload goes: run input, LLM
 * messages and answers, tool arguments and results, a deferred tool's
 * arguments across a suspension, a child's input and result, a signal, an
 * error that quotes a key (dead-lettered).
 */
async function scenario(store: string): Promise<Scenario> {
  const provider = new LeakyProvider();
  const exporter = new InMemorySpanExporter();
  const tracing = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const f = await Flotilla.open({
    store,
    providers: { default: provider },
    tracerProvider: tracing,
    inlineSleepMs: 0,
    inlineWaitMs: 0,
    worker: { pollMs: 20 },
  });
  const toolGot: Record<string, unknown[]> = { pay: [], notify: [], vault: [], session: [] };
  const seen: unknown[] = [];
  try {
    const pay = f.tool("payments.charge", {
      effect: "idempotent",
      key: (a: { order: string }) => `charge:${a.order}`,
      run: (a: { order: string; card: string; apiKey: string }) => {
        toolGot.pay!.push(a);
        return Promise.resolve({ receipt: "r-1", auth: BEARER, card: CARD });
      },
    });
    const notify = f.tool("notify.send", {
      effect: "irreversible",
      defer: "end-of-run",
      run: (a: { authorization: string }) => {
        toolGot.notify!.push(a);
        return Promise.resolve({ sent: true });
      },
    });
    const session = f.tool("session.read", {
      effect: "read",
      run: (a: { user: string }) => {
        toolGot.session!.push(a);
        return Promise.resolve({ user: a.user, authorization: BEARER });
      },
    });
    const vault = f.tool("vault.read", {
      effect: "read",
      run: (a: { key: string }) => {
        toolGot.vault!.push(a);
        return Promise.reject(
          new ProviderError(
            { provider: "vault", kind: "auth", status: 401 },
            `key ${a.key} was refused`,
          ),
        );
      },
    });
    const child = f.agent("child", (_ctx, input: { key: string }) =>
      Promise.resolve({ card: CARD, gotKey: input.key }),
    );
    const main = f.agent("main", async (ctx, input: { customer: string; card: string }) => {
      const answer = await ctx.llm({
        model: "m",
        messages: [
          { role: "user", content: `charge ${CARD} for ${input.customer}, key ${API_KEY}` },
        ],
      });
      const receipt = await ctx.call(pay, { order: "o-1", card: CARD, apiKey: API_KEY });
      await ctx.call(notify, { authorization: BEARER });
      const fromChild = await ctx.spawn(child, { key: API_KEY });
      const read = await ctx.call(session, { user: "ann" });
      seen.push({ input, answer: answer.message.content, receipt, fromChild, read });
      // Suspends (and replays): what the agent sees again must be what it saw.
      await ctx.sleep(30);
      const signalled = await ctx.waitFor<Json>("extra");
      return { answer: answer.message.content, receipt, signalled };
    });
    const failing = f.agent("failing", async (ctx) => {
      await ctx.call(vault, { key: API_KEY });
    });

    const run = await f.start(main, { customer: "ann", card: CARD });
    await f.signal(run.id, "extra", { note: `token ${BEARER}` });
    const result = await run.result({ timeoutMs: 20_000 });
    const bad = await f.start(failing, null);
    await assert.rejects(bad.result({ timeoutMs: 20_000 }));
    const deadLetters = JSON.stringify(await f.listDeadLetters());
    const spans = JSON.stringify(
      exporter.getFinishedSpans().map((s) => ({
        name: s.name,
        attributes: s.attributes,
        status: s.status,
        events: s.events,
      })),
    );
    return { provider, toolGot, seen, deadLetters, spans, result };
  } finally {
    await f.close();
  }
}

function assertNoSecret(where: string, text: string): void {
  for (const n of NEEDLES) assert.ok(!text.includes(n), `${where} holds a secret: ${n}`);
}

function assertRedactedBehaviour(s: Scenario): void {
  // The provider and the tools got the real values.
  assert.ok(s.provider.received.some((m) => m.includes(API_KEY) && m.includes(CARD)));
  assert.deepEqual(s.toolGot.pay, [{ order: "o-1", card: CARD, apiKey: API_KEY }]);
  // Performed at the end of the run, after it was suspended and replayed from the journal.
  assert.deepEqual(s.toolGot.notify, [{ authorization: BEARER }]);
  assert.deepEqual(s.toolGot.vault, [{ key: API_KEY }]);

  // The agent saw what the journal holds, the same on every execution.
  assert.ok(s.seen.length >= 2, `executions that saw the results: ${s.seen.length}`);
  for (const later of s.seen.slice(1)) assert.deepEqual(later, s.seen[0]);
  assert.deepEqual(s.seen[0], {
    input: { customer: "ann", card: "[REDACTED:card-number]" },
    answer: "use Bearer [REDACTED:bearer-token] with [REDACTED:api-key]",
    receipt: {
      receipt: "r-1",
      auth: "Bearer [REDACTED:bearer-token]",
      card: "[REDACTED:card-number]",
    },
    fromChild: { card: "[REDACTED:card-number]", gotKey: "[REDACTED:api-key]" },
    read: { user: "ann", authorization: "Bearer [REDACTED:bearer-token]" },
  });
  assert.deepEqual((s.result as { signalled: unknown }).signalled, {
    note: "token Bearer [REDACTED:bearer-token]",
  });

  assertNoSecret("the dead letters", s.deadLetters);
  assert.match(s.deadLetters, /key \[REDACTED:api-key\] was refused/);
  assertNoSecret("the spans", s.spans);
  assert.match(s.spans, /\[REDACTED:api-key\]/);
}

describe("redaction", () => {
  it("keeps seeded secrets out of the SQLite file (WAL included), dead letters and spans", async () => {
    const path = tempStore();
    const s = await scenario(path);
    assertRedactedBehaviour(s);
    const bytes = Buffer.concat(
      [path, `${path}-wal`, `${path}-shm`].filter((p) => existsSync(p)).map((p) => readFileSync(p)),
    ).toString("latin1");
    assertNoSecret("the store file", bytes);
    // Not vacuous: the redacted forms are there.
    for (const kind of ["api-key", "bearer-token", "card-number"])
      assert.ok(bytes.includes(`[REDACTED:${kind}]`), kind);
  });

  it("keeps seeded secrets out of every PostgreSQL row", { skip: pgSkip }, async () => {
    const db = await freshDatabase();
    try {
      const s = await scenario(db.url);
      assertRedactedBehaviour(s);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows: tables } = await client.query<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
        );
        let dump = "";
        for (const { name } of tables) {
          const { rows } = await client.query<{ row: string }>(
            `SELECT t::text AS row FROM "${name}" t`,
          );
          dump += rows.map((r) => r.row).join("\n");
        }
        // Payload blobs are bytea, which text shows as hex.
        const hex = (t: string) => Buffer.from(t).toString("hex");
        assertNoSecret("the PostgreSQL rows", dump);
        assertNoSecret(
          "the PostgreSQL rows (hex)",
          dump.replace(/\\x([0-9a-f]+)/g, (_, h: string) =>
            Buffer.from(h, "hex").toString("latin1"),
          ),
        );
        for (const n of NEEDLES) assert.ok(!dump.includes(hex(n)), `hex of ${n}`);
        assert.ok(dump.includes("[REDACTED:card-number]"));
      } finally {
        await client.end();
      }
    } finally {
      await db.drop();
    }
  });
});

describe("redaction and recovery", () => {
  it("calls an effect cut short again with the real arguments, not the journaled redacted ones", async () => {
    const inner = await openStore(tempStore());
    // The commit of the effect's outcome fails once: the execution gives the run up after the call.
    const faulty = new FaultyStore(inner, {
      seed: 1,
      rate: 1,
      mode: "error",
      calls: ["commit"],
      match: ([c]) => (c as Commit).events.some((e) => e.type === "effect.committed"),
      limit: 1,
    });
    const f = await Flotilla.open({ store: faulty.store, worker: { pollMs: 20 } });
    const got: unknown[] = [];
    try {
      const pay = f.tool("payments.charge", {
        effect: "idempotent",
        key: (a: { order: string }) => `charge:${a.order}`,
        run: (a: { order: string; card: string }) => {
          got.push(a);
          return Promise.resolve({ ok: true });
        },
      });
      const agent = f.agent("payer", (ctx) => ctx.call(pay, { order: "o-9", card: CARD }));
      const run = await f.start(agent, null);
      assert.deepEqual(await run.result({ timeoutMs: 20_000 }), { ok: true });
      assert.equal(faulty.total, 1);
      const journal = JSON.stringify(await f.store.readJournal(run.id));
      assert.match(journal, /run\.interrupted/);
      assert.match(journal, /"attempt":2/);
      assertNoSecret("the journal", journal);
      assert.deepEqual(got, [
        { order: "o-9", card: CARD },
        { order: "o-9", card: CARD },
      ]);
      // The key's arguments fingerprint is of the stored form too: a card number's hash can be reversed.
      const hash = (v: Json) => sha256(canonicalJson(v)).subarray(0, 16).toString("hex");
      const effect = await f.store.getEffect("payments.charge", "charge:o-9");
      assert.equal(effect?.argsHash, hash({ order: "o-9", card: "[REDACTED:card-number]" }));
    } finally {
      await f.close();
      await inner.close();
    }
  });
});

describe("the redactor", () => {
  const r = new Redactor();

  it("finds keys, bearer tokens and card numbers, not what only looks like them", () => {
    assert.ok(luhn("4539148803436467"));
    const cases: [string, string][] = [
      [`key ${API_KEY}.`, "key [REDACTED:api-key]."],
      ["AKIAIOSFODNN7EXAMPLE", "[REDACTED:api-key]"],
      [`ghp_${"a1".repeat(18)}`, "[REDACTED:api-key]"],
      ["xoxb-1234567890-abcdefghij", "[REDACTED:api-key]"],
      ["sk_live_4eC39HqLyjWDarjtT1zdp7dc", "[REDACTED:api-key]"],
      [`Authorization: ${BEARER}`, "Authorization: Bearer [REDACTED:bearer-token]"],
      ["card 4539-1488-0343-6467 ok", "card [REDACTED:card-number] ok"],
      ["card 5555555555554444", "card [REDACTED:card-number]"],
      // Not secrets: a failed check digit, a timestamp, a fraction, a word with sk- in it, an id.
      ["order 4539148803436468", "order 4539148803436468"],
      ["at 1719876543210", "at 1719876543210"],
      ["p = 0.4539148803436467", "p = 0.4539148803436467"],
      ["scikit sk-learn-is-a-library-name", "scikit sk-learn-is-a-library-name"],
      ["run 01a24b0d-7671-7a5e-ac43-482b06108baa", "run 01a24b0d-7671-7a5e-ac43-482b06108baa"],
    ];
    for (const [given, expected] of cases) assert.equal(r.text(given), expected, given);
    assert.equal(r.value(4539148803436467), "[REDACTED:card-number]");
    assert.equal(r.value(1719876543210), 1719876543210);
  });

  it("returns a clean payload as the same object, and is idempotent", () => {
    const clean = { a: [1, "two", { three: null }], b: true };
    assert.equal(r.value(clean), clean);
    const dirty = { keep: clean, args: [`${API_KEY}`] };
    const once = r.value(dirty);
    assert.notEqual(once, dirty);
    assert.equal(once.keep, clean);
    assert.equal(r.value(once), once);
    assert.deepEqual(dirty.args, [API_KEY], "the input is not changed");
  });

  it("applies custom patterns and a hook with the value's path; defaults can be turned off", () => {
    const paths: string[] = [];
    const custom = new Redactor({
      defaults: false,
      patterns: [/EMP-\d{4}/],
      hook: (value, path) => {
        paths.push(path.join("."));
        return path.at(-1) === "password" ? "[REDACTED:password]" : value;
      },
    });
    const out = custom.value({
      user: { password: "hunter2", id: "EMP-1234 EMP-5678" },
      key: API_KEY,
    });
    assert.deepEqual(out, {
      user: { password: "[REDACTED:password]", id: "[REDACTED:custom] [REDACTED:custom]" },
      key: API_KEY,
    });
    assert.deepEqual(paths, ["user.password", "user.id", "key"]);
    assert.equal(new Redactor(false).active, false);
    const throwing = new Redactor({
      hook: () => {
        throw new Error("bug");
      },
    });
    assert.equal(throwing.value("x"), "[REDACTED:hook-error]");
  });

  it("rejects bad options at Flotilla.open with the field named", async () => {
    await assert.rejects(
      Flotilla.open({ store: tempStore(), redact: { patterns: ["sk-"] as unknown as RegExp[] } }),
      (err: unknown) =>
        isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT") && /redact/.test(err.message),
    );
    await assert.rejects(
      Flotilla.open({ store: tempStore(), redact: { default: true } as never }),
      (err: unknown) =>
        isFlotillaError(err, "FLOTILLA_INVALID_ARGUMENT") && /redact/.test(err.message),
    );
  });

  it("stores payloads as they are with redact: false", async () => {
    const f = await Flotilla.open({ store: tempStore(), redact: false, worker: { pollMs: 20 } });
    try {
      const echo = f.agent("echo", (_ctx, input: string) => Promise.resolve(input));
      const run = await f.start(echo, API_KEY);
      assert.equal(await run.result({ timeoutMs: 10_000 }), API_KEY);
      assert.equal((await f.getRun(run.id)).input, API_KEY);
    } finally {
      await f.close();
    }
  });
});
