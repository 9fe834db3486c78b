import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Json } from "../src/core/json.js";
import { cancelReceipt } from "../src/saga/receipt.js";
import type { JournalEvent } from "../src/store/types.js";

let id = 0;
const event = (type: string, step: string | null, data: Json): JournalEvent => ({
  id: ++id,
  runId: "run_1",
  type,
  step,
  data,
  at: 0,
});

describe("cancel receipt", () => {
  it("says how each in-flight effect settled; a failure that may hide an effect is unknown", () => {
    const events = [
      event("effect.intent", "0", { name: "crm.tag", key: "k0" }),
      event("effect.committed", "0", { name: "crm.tag", value: null }),
      event("effect.intent", "1", { name: "mail.send", key: "k1" }),
      event("effect.intent", "2", { name: "crm.tag", key: "k2" }),
      event("effect.intent", "3", { name: "card.charge", key: "k3" }),
      event("run.cancel-requested", null, { reason: "stop" }),
      event("effect.failed", "1", { name: "mail.send", error: { name: "E", message: "no" } }),
      event("effect.failed", "2", {
        name: "crm.tag",
        mayHaveActed: true,
        error: { name: "E", message: "lost" },
      }),
      event("effect.committed", "3", { name: "card.charge", value: 1 }),
      event("effect.revoked", "4", { name: "mail.send" }),
    ];
    const receipt = cancelReceipt("run_1", events, []);
    assert.equal(receipt.reason, "stop");
    assert.deepEqual(
      receipt.committed.map((e) => e.step),
      ["0"],
    );
    assert.deepEqual(
      receipt.inFlight.map((e) => [e.step, e.settled]),
      [
        ["1", "failed"],
        ["2", "unknown"],
        ["3", "committed"],
      ],
    );
    assert.deepEqual(
      receipt.notStarted.map((e) => e.step),
      ["4"],
    );
  });
});
