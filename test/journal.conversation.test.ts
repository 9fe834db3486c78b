import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { freshDatabase, postgresSkipReason } from "../bench/support/postgres.js";
import { canonicalJson, sha256, type Json } from "../src/core/json.js";
import { Flotilla, isFlotillaError } from "../src/index.js";
import { MessageChains } from "../src/journal/messageHashes.js";
import {
  PayloadWriter,
  readMessageList,
  readMessageLists,
  type BlobBatch,
} from "../src/journal/payloads.js";
import type { LlmMessage, LlmProvider } from "../src/providers/types.js";
import { checkLlmRequest } from "../src/runtime/llmRequest.js";
import { openStore } from "../src/store/open.js";
import type { Commit, Store } from "../src/store/types.js";
import { tempStore } from "./helpers/tempStore.js";

const skipPostgres = await postgresSkipReason();

const SYSTEM: LlmMessage = { role: "system", content: "You are a support agent for a shop." };
const userTurn = (t: number): LlmMessage => ({
  role: "user",
  content: `Turn ${t}: where is my order #${1000 + t}? ${"Please check again. ".repeat(8)}`,
});
const answerTo = (historyLength: number): LlmMessage => ({
  role: "assistant",
  content: `Answer to ${historyLength}: ${"the order ships Tuesday; ".repeat(16)}`,
});

/** The history a conversation of `turns` turns ends with. */
function expectedHistory(turns: number): LlmMessage[] {
  const h = [SYSTEM];
  for (let t = 0; t < turns; t++) h.push(userTurn(t), answerTo(2 * t + 2));
  return h;
}

const digest = (history: LlmMessage[]) => sha256(canonicalJson(history)).toString("hex");

class Talker implements LlmProvider {
  readonly name = "talker";
  calls = 0;
  complete(request: { model: string; messages: LlmMessage[] }) {
    this.calls++;
    return Promise.resolve({
      message: answerTo(request.messages.length),
      usage: { inputTokens: 100, outputTokens: 100 },
      model: request.model,
      finishReason: "stop" as const,
    });
  }
}

/** A store that counts blob reads and records the blobs of each commit. */
function counted(store: Store): { store: Store; reads: () => number; commits: number[] } {
  let reads = 0;
  const commits: number[] = [];
  const wrapped = new Proxy(store, {
    get(target, prop) {
      if (prop === "getBlobs")
        return (hashes: readonly Buffer[]) => {
          reads++;
          return target.getBlobs(hashes);
        };
      if (prop === "commit")
        return (c: Commit) => {
          if (c.blobs?.length) commits.push(c.blobs.length);
          return target.commit(c);
        };
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store: wrapped, reads: () => reads, commits };
}

async function open(store: string | Store, provider: LlmProvider) {
  return Flotilla.open({
    store,
    providers: { default: provider },
    worker: { pollMs: 20, leaseMs: 2000 },
    stopGraceMs: 500,
  });
}

/** The request heads of a run's LLM steps, in journal order. */
async function requestHeads(store: Store, runId: string): Promise<Buffer[]> {
  return (await store.readJournal(runId))
    .filter((e) => e.type === "step.completed" && (e.data as { kind?: string }).kind === "llm")
    .map((e) =>
      Buffer.from(
        (e.data as { request: { messagesRef: string } }).request.messagesRef,
        "base64url",
      ),
    );
}

const TURNS = 300;
const CRASH_AFTER = 150;

async function conversationSurvivesRestart(url: string, maxBytesRatio: number): Promise<void> {
  const hang = new Promise<never>(() => undefined);
  let gateReached!: () => void;
  const reached = new Promise<void>((r) => (gateReached = r));
  const define = (f: Flotilla, hangs: boolean) => {
    const gate = f.tool("gate", {
      effect: "read",
      run: () => {
        if (!hangs) return Promise.resolve(1);
        gateReached();
        return hang;
      },
    });
    return f.agent("talk", async (ctx, turns: number) => {
      const history: LlmMessage[] = [SYSTEM];
      for (let t = 0; t < turns; t++) {
        history.push(userTurn(t));
        const r = await ctx.llm({ model: "m", messages: history });
        history.push(r.message);
        if (t === CRASH_AFTER) await ctx.call(gate, {});
      }
      // A digest, so the run's result does not weigh on the journal's size.
      return digest(history);
    });
  };

  const talker1 = new Talker();
  const first = await open(url, talker1);
  const run = await first.start(define(first, true), TURNS);
  await reached;
  await (await first.worker()).stop(0);
  await first.close();

  const talker2 = new Talker();
  const raw = await openStore(url);
  const { store, reads, commits } = counted(raw);
  const second = await open(store, talker2);
  define(second, false);
  await second.worker();
  const history = await second.handle<string>(run.id).result({ timeoutMs: 60_000 });
  const replayReads = reads();
  await second.close();

  assert.equal(
    history,
    digest(expectedHistory(TURNS)),
    "the replayed history is the one first seen",
  );
  assert.equal(talker1.calls, CRASH_AFTER + 1);
  assert.equal(talker2.calls, TURNS - CRASH_AFTER - 1, "recorded turns are replayed, not re-asked");
  assert.ok(
    replayReads <= 2,
    `replaying ${CRASH_AFTER + 1} answers read blobs ${replayReads} times (one per step before)`,
  );
  // The first turn after the restart finds the replayed step's chain stored: it writes
  // its new tail, not the whole history again.
  assert.ok((commits[0] ?? 0) <= 5, `first commit after restart wrote ${commits[0]} blobs`);

  // Every step's request reads back as the history it was sent, in a few rounds.
  const heads = await requestHeads(raw, run.id);
  assert.equal(heads.length, TURNS);
  const { store: reader, reads: listReads } = counted(raw);
  const lists = await readMessageLists(reader, heads);
  const full = expectedHistory(TURNS);
  lists.forEach((list, t) => assert.deepEqual(list, full.slice(0, 2 * t + 2), `turn ${t}`));
  assert.ok(listReads() <= 4, `reading ${TURNS} chains took ${listReads()} round trips`);

  // Content-addressed: the journal costs a small multiple of the distinct messages (a history
  // stored whole every turn would cost ~TURNS/2 times as much).
  const unique = new Set(full.map((m) => canonicalJson(m)));
  const uniqueBytes = [...unique].reduce((s, m) => s + Buffer.byteLength(m), 0);
  const bytes = await raw.storedBytes();
  assert.ok(
    bytes.events + bytes.blobs <= maxBytesRatio * uniqueBytes,
    `stored ${bytes.events + bytes.blobs} bytes for ${uniqueBytes} unique`,
  );
  await raw.close();
}

describe("long conversations", () => {
  it("replay after a restart with the same messages, reading answers a window at a time (SQLite)", async () => {
    await conversationSurvivesRestart(tempStore(), 2);
  });

  it(
    "replay after a restart with the same messages (PostgreSQL)",
    { skip: skipPostgres ?? false },
    async () => {
      const db = await freshDatabase();
      try {
        // PostgreSQL counts each row's header too (pg_column_size): ~50 bytes a blob.
        await conversationSurvivesRestart(db.url, 2.5);
      } finally {
        await db.drop();
      }
    },
  );

  it("hash each message once, however long the history grows", async () => {
    const f = await open(tempStore(), new Talker());
    const turns = 200;
    const agent = f.agent("talk", async (ctx) => {
      const history: LlmMessage[] = [SYSTEM];
      for (let t = 0; t < turns; t++) {
        history.push(userTurn(t));
        history.push((await ctx.llm({ model: "m", messages: history })).message);
      }
      return history.length;
    });
    await (await f.start(agent, null)).result({ timeoutMs: 30_000 });
    // Per turn: the answer, and the new tail of the request (last answer, new question).
    assert.ok(
      f.payloads.messagesHashed <= 3 * turns + 1,
      `${f.payloads.messagesHashed} messages hashed in ${turns} turns`,
    );
    assert.equal(f.staleAnswers.size, 0, "no stale policy, so nothing is remembered for one");
    await f.close();
  });

  it("journals a message edited in place between turns with its new content", async () => {
    const f = await open(tempStore(), new Talker());
    const agent = f.agent("edit", async (ctx) => {
      const history: LlmMessage[] = [SYSTEM, userTurn(0)];
      history.push((await ctx.llm({ model: "m", messages: history })).message);
      (history[1] as LlmMessage).content = "Turn 0, corrected: where is order #7?";
      history.push(userTurn(1));
      await ctx.llm({ model: "m", messages: history });
      return null;
    });
    const run = await f.start(agent, null);
    await run.result({ timeoutMs: 10_000 });
    const [before, afterEdit] = await requestHeads(f.store, run.id);
    assert.deepEqual(await readMessageList(f.store, before as Buffer), [SYSTEM, userTurn(0)]);
    assert.deepEqual(await readMessageList(f.store, afterEdit as Buffer), [
      SYSTEM,
      { role: "user", content: "Turn 0, corrected: where is order #7?" },
      answerTo(2),
      userTurn(1),
    ]);
    await f.close();
  });

  it("remembers answers for a stale policy only, under a fixed-size key", async () => {
    const f = await open(tempStore(), new Talker());
    const agent = f.agent("stale", async (ctx) => {
      await ctx.llm({ model: "m", messages: [userTurn(0)] });
      await ctx.llm({ model: "m", messages: [userTurn(1)] }, { onFailure: "refuse" });
      await ctx.llm(
        { model: "m", messages: [userTurn(2)] },
        { onFailure: { stale: { maxAgeMs: 60_000 } } },
      );
      return null;
    });
    await (await f.start(agent, null)).result({ timeoutMs: 10_000 });
    assert.equal(f.staleAnswers.size, 1);
    assert.match([...f.staleAnswers.keys()][0] ?? "", /^[0-9a-f]{64}$/);
    await f.close();
  });
});

describe("incremental message hashing", () => {
  /** A seeded generator, so a failure replays. */
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }

  it("gives the same head as hashing from scratch, whatever the caller does to its messages", () => {
    const random = rng(7);
    const cached = new PayloadWriter();
    const chains = new MessageChains();
    const history: Record<string, unknown>[] = [{ role: "system", content: "s" }];
    for (let turn = 0; turn < 400; turn++) {
      const pick = (): Record<string, unknown> =>
        history[Math.floor(random() * history.length)] as Record<string, unknown>;
      const r = random();
      if (r < 0.5) history.push({ role: "user", content: `u${turn}` });
      else if (r < 0.6) pick().content = `edited ${turn}`;
      else if (r < 0.65) pick().name = undefined;
      else if (r < 0.7) pick().extra = { n: turn, list: [1, "two", null] };
      else if (r < 0.75) {
        const m = pick();
        if (m.extra) (m.extra as { list: unknown[] }).list[1] = `changed ${turn}`;
      } else if (r < 0.8) {
        const i = Math.floor(random() * history.length);
        // The same content, rebuilt: new objects, keys in another order.
        history[i] = Object.fromEntries(Object.entries(history[i] as object).reverse());
      } else if (r < 0.85 && history.length > 2) history.pop();
      else if (r < 0.9)
        history.push({ role: "tool", content: null, toolCalls: [{ id: `c${turn}` }] });
      else if (r < 0.95) delete pick().extra;
      const values = history as unknown as Json[];
      const out: BlobBatch = new Map();
      const head = cached.messageList(values, out, chains);
      cached.stored([...out.values()]);
      const fresh = new PayloadWriter().messageList(values, new Map());
      assert.equal(head.toString("hex"), fresh.toString("hex"), `turn ${turn}`);
    }
  });

  it("writes the blobs of a prefix hashed before but never stored", () => {
    const writer = new PayloadWriter();
    const chains = new MessageChains();
    const history: Json[] = [{ role: "user", content: "a" }];
    // This list's blobs are never stored (its step failed), so the next turn must write them.
    writer.messageList(history, new Map(), chains);
    history.push({ role: "user", content: "b" });
    const out: BlobBatch = new Map();
    writer.messageList(history, out, chains);
    const all: BlobBatch = new Map();
    new PayloadWriter().messageList(history, all);
    assert.deepEqual([...out.keys()].sort(), [...all.keys()].sort());
  });
});

describe("ctx.llm request validation", () => {
  const valid = (): LlmMessage[] => [SYSTEM, userTurn(0), answerTo(2), userTurn(1)];
  const rejects = (request: unknown, field: string) =>
    assert.throws(
      () => checkLlmRequest(request),
      (e) => isFlotillaError(e, "FLOTILLA_INVALID_ARGUMENT") && e.details.field === field,
    );

  it("accepts what the schema accepts, extra message fields included", () => {
    class Note {
      role = "user";
      content = "from a class";
    }
    checkLlmRequest({
      model: "m",
      messages: [...valid(), new Note(), { role: "tool", content: null, toolCallId: "c1" }],
      tools: [{ name: "t", parameters: {} }],
      temperature: 0.5,
    });
  });

  it("names the wrong field, in the messages or around them", () => {
    rejects({ model: "m", messages: [] }, "ctx.llm.messages");
    const badRole = valid();
    (badRole[2] as { role: string }).role = "bot";
    rejects({ model: "m", messages: badRole }, "ctx.llm.messages.2.role");
    const holed: (LlmMessage | undefined)[] = valid();
    holed[5] = userTurn(2); // index 4 is a hole
    rejects({ model: "m", messages: holed }, "ctx.llm.messages.4");
    rejects({ model: "m", messages: [{ role: "user", content: 7 }] }, "ctx.llm.messages.0.content");
    rejects({ model: "", messages: valid() }, "ctx.llm.model");
    rejects({ model: "m", messages: valid(), temperature: 3 }, "ctx.llm.temperature");
    rejects({ model: "m", messages: valid(), tools: [{ name: "" }] }, "ctx.llm.tools.0.name");
  });
});
