import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { before, describe, it } from "node:test";
import { openFlotilla, ScriptedProvider, settle, tempStore } from "./helpers/deadletter.js";
import { cli } from "./helpers/cli.js";

describe("flotilla dlq", () => {
  const store = tempStore();
  const runs: string[] = [];
  before(async () => {
    const f = await openFlotilla(new ScriptedProvider(() => ({ fail: "bad_request" })), {}, store);
    const agent = f.agent("cli.dlq", async (ctx, n: number) =>
      ctx.llm({ model: "m", messages: [{ role: "user", content: `q${n}` }] }),
    );
    for (const n of [1, 2]) {
      const run = await f.start(agent, n);
      await settle(f, run.id);
      runs.push(run.id);
    }
    await f.close();
  });

  it("lists, shows, discards and redrives", () => {
    const list = cli("dlq", "list", "--class", "non-retryable", "--store", store, "--json");
    assert.equal(list.code, 0, list.stderr);
    const entries = (JSON.parse(list.stdout) as { deadLetters: { id: string; runId: string }[] })
      .deadLetters;
    assert.deepEqual(entries.map((e) => e.runId).sort(), [...runs].sort());
    const [first, second] = entries;
    assert.ok(first && second);

    const show = cli("dlq", "show", first.id, "--store", store);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /class non-retryable/);
    assert.match(show.stdout, /scripted bad_request/);

    const noReason = cli("dlq", "discard", first.id, "--store", store);
    assert.notEqual(noReason.code, 0);
    assert.match(noReason.stderr, /--reason/);
    const discard = cli("dlq", "discard", first.id, "--reason", "dup", "--store", store);
    assert.equal(discard.code, 0, discard.stderr);

    const patch = join(dirname(store), "patch.json");
    writeFileSync(patch, JSON.stringify({ model: "other" }));
    const redrive = cli(
      "dlq",
      "redrive",
      "--class",
      "non-retryable",
      "--patch",
      patch,
      "--store",
      store,
      "--json",
    );
    assert.equal(redrive.code, 0, redrive.stderr);
    assert.deepEqual((JSON.parse(redrive.stdout) as { redriven: string[] }).redriven, [second.id]);
    const open = cli("dlq", "list", "--status", "open", "--store", store, "--json");
    assert.deepEqual((JSON.parse(open.stdout) as { deadLetters: unknown[] }).deadLetters, []);
  });

  it("rejects a bad class with one line on stderr", () => {
    const r = cli("dlq", "list", "--class", "bogus", "--store", store);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--class must be one of .*received 'bogus'/);
  });
});
