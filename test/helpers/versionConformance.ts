import assert from "node:assert/strict";
import { it } from "node:test";
import { isFlotillaError } from "../../src/core/errors.js";
import { newRunId } from "../../src/core/ids.js";
import type { AgentVersionInfo, Store } from "../../src/store/types.js";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const at = (agent: string, version: string, ...older: string[]): AgentVersionInfo => ({
  agent,
  version,
  accepts: [version, ...older],
});

function conflict(reason: "agent" | "input") {
  return (err: unknown) =>
    isFlotillaError(err, "FLOTILLA_IDEMPOTENCY_CONFLICT") && err.details.reason === reason;
}

/**
 * Agent versions, worker presence and idempotency-key conflicts (issue 18):
 * part of the store conformance suite, run on every adapter.
 */
export function versionConformance(store: () => Store): void {
  it("returns the key's run for the same agent and input, and refuses another input or agent", async () => {
    const s = store();
    const key = `idem-${newRunId()}`;
    const first = await s.createRun({
      id: newRunId(),
      agent: "idem",
      input: { a: 1, b: [1, 2] },
      idempotencyKey: key,
    });
    // The same input with its keys in another order is the same input.
    const again = await s.createRun({
      id: newRunId(),
      agent: "idem",
      input: { b: [1, 2], a: 1 },
      idempotencyKey: key,
    });
    assert.equal(again.created, false);
    assert.equal(again.run.id, first.run.id);
    await assert.rejects(
      s.createRun({ id: newRunId(), agent: "idem", input: { a: 2 }, idempotencyKey: key }),
      conflict("input"),
    );
    await assert.rejects(
      s.createRun({
        id: newRunId(),
        agent: "other",
        input: { a: 1, b: [1, 2] },
        idempotencyKey: key,
      }),
      conflict("agent"),
    );
    // Created leased to a worker: refused alike, and nothing is leased.
    await assert.rejects(
      s.createRun(
        { id: newRunId(), agent: "idem", input: null, idempotencyKey: key },
        { workerId: "w-idem", leaseMs: 30_000, agentVersion: "1" },
      ),
      conflict("input"),
    );
    const run = await s.getRun(first.run.id);
    assert.equal(run?.status, "pending");
    assert.equal(run?.leaseOwner, null);
  });

  it("records the claiming worker's version and lets only a worker accepting it claim the run again", async () => {
    const s = store();
    const { run } = await s.createRun({ id: newRunId(), agent: "ver", input: null });
    assert.equal(run.agentVersion, null, "no version before a worker executes it");
    const claim = (workerId: string, v: AgentVersionInfo) =>
      s.claimRuns({ workerId, agents: ["ver"], limit: 5, leaseMs: 30_000, versions: [v] });
    const [byV1] = await claim("w1", at("ver", "1"));
    assert.equal(byV1?.id, run.id, "a run no worker has executed is claimed at any version");
    assert.equal(byV1?.agentVersion, "1");
    await s.releaseLeases([{ runId: run.id, leaseToken: byV1.leaseToken }]);
    assert.deepEqual(await claim("w2", at("ver", "2")), [], "version 2 does not resume version 1");
    assert.equal((await s.getRun(run.id))?.agentVersion, "1");
    const [byV2] = await claim("w2", at("ver", "2", "1"));
    assert.equal(byV2?.id, run.id, "version 2 compatible with 1 resumes it");
    assert.equal(byV2?.agentVersion, "2");
    await s.releaseLeases([{ runId: run.id, leaseToken: byV2.leaseToken }]);
    assert.deepEqual(await claim("w1", at("ver", "1")), [], "once version 2 ran it, 1 may not");
    // A claim that names no versions (a store caller of old) claims any run and records none.
    const [legacy] = await s.claimRuns({
      workerId: "w0",
      agents: ["ver"],
      limit: 5,
      leaseMs: 30_000,
    });
    assert.equal(legacy?.id, run.id);
    assert.equal(legacy?.agentVersion, "2");
  });

  it("records the version of the worker a run is created leased to, in the run and in run.resumed", async () => {
    const s = store();
    const made = await s.createRun(
      { id: newRunId(), agent: "ver-local", input: null },
      { workerId: "w-local", leaseMs: 30_000, agentVersion: "7" },
    );
    assert.equal(made.claimed?.run.agentVersion, "7");
    const resumed = made.claimed?.journal.find((e) => e.type === "run.resumed");
    assert.deepEqual(resumed?.data, { worker: "w-local", agentVersion: "7" });
  });

  it("counts unfinished runs by recorded version, leaving out unversioned and ended ones", async () => {
    const s = store();
    const agent = `count-${newRunId()}`;
    for (let i = 0; i < 3; i++) await s.createRun({ id: newRunId(), agent, input: i });
    const [a, b] = await s.claimRuns({
      workerId: "w-count",
      agents: [agent],
      limit: 2,
      leaseMs: 30_000,
      versions: [at(agent, "1")],
    });
    assert.ok(a && b);
    await s.commit({
      runId: b.id,
      fence: { leaseToken: b.leaseToken },
      events: [{ type: "run.completed", data: null }],
      status: { status: "completed", result: null },
      release: true,
    });
    assert.deepEqual(await s.runVersions([agent]), [{ agent, version: "1", count: 1 }]);
  });

  it("tells which agents live workers run, until a worker stops or its presence expires", async () => {
    const s = store();
    const mine = async (workerId: string) =>
      (await s.liveWorkerAgents())
        .filter((l) => l.workerId === workerId)
        .map(({ agent, version, accepts }) => ({ agent, version, accepts }));
    const stays = `w-live-${newRunId()}`;
    const lapses = `w-lapse-${newRunId()}`;
    await s.announceWorker(stays, [at("p", "2", "1"), at("q", "src:0123456789ab")], 60_000);
    await s.announceWorker(lapses, [at("p", "1")], 40);
    assert.deepEqual(await mine(stays), [
      { agent: "p", version: "2", accepts: ["2", "1"] },
      { agent: "q", version: "src:0123456789ab", accepts: ["src:0123456789ab"] },
    ]);
    assert.equal((await mine(lapses)).length, 1);
    // Announcing again replaces what the worker said before.
    await s.announceWorker(stays, [at("p", "3")], 60_000);
    assert.deepEqual(await mine(stays), [{ agent: "p", version: "3", accepts: ["3"] }]);
    await pause(120);
    assert.deepEqual(await mine(lapses), [], "a worker that stopped renewing is not live");
    await s.unregisterWorker(stays);
    assert.deepEqual(await mine(stays), []);
  });

  it("claims with journals: run.resumed journaled in the claim, each run returned with its whole journal", async () => {
    const s = store();
    const agent = `resume-${newRunId()}`;
    const bare = `resume-bare-${newRunId()}`;
    const made = await s.createRun({ id: newRunId(), agent, input: { n: 1 } });
    const other = await s.createRun({ id: newRunId(), agent: bare, input: null });
    const [claimed, ...more] = await s.claimRuns({
      workerId: "w-resume",
      agents: [agent],
      limit: 5,
      leaseMs: 30_000,
      versions: [at(agent, "7")],
      withJournals: true,
    });
    assert.equal(more.length, 0);
    assert.equal(claimed?.id, made.run.id);
    assert.equal(claimed.agentVersion, "7");
    assert.deepEqual(
      claimed.journal?.map((e) => [e.type, e.data]),
      [
        ["run.created", (await s.readJournal(made.run.id))[0]?.data],
        ["run.resumed", { worker: "w-resume", agentVersion: "7" }],
      ],
    );
    assert.deepEqual(claimed.journal, await s.readJournal(made.run.id));
    // Claimed under the new lease: a commit fenced by it lands after the journal it returned.
    await s.commit({
      runId: claimed.id,
      fence: { leaseToken: claimed.leaseToken },
      events: [{ type: "run.completed", data: null }],
      status: { status: "completed", result: 1 },
      release: true,
    });
    assert.equal((await s.readJournal(claimed.id)).length, 3);
    // No version for the agent: the event says which worker, and no version.
    const [unversioned] = await s.claimRuns({
      workerId: "w-bare",
      agents: [bare],
      limit: 1,
      leaseMs: 30_000,
      withJournals: true,
    });
    assert.deepEqual(unversioned?.journal?.at(-1)?.data, { worker: "w-bare" });
    assert.equal(unversioned?.journal?.length, 2);
    assert.equal(other.run.id, unversioned?.id);
    // Without the option the claim writes nothing and returns no journal.
    await s.createRun({ id: newRunId(), agent: bare, input: null });
    const [plain] = await s.claimRuns({
      workerId: "w-p",
      agents: [bare],
      limit: 1,
      leaseMs: 30_000,
    });
    assert.equal(plain?.journal, undefined);
    assert.equal((await s.readJournal(plain?.id ?? "")).length, 1);
  });
}
