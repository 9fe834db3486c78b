import assert from "node:assert/strict";
import type { Store } from "../../src/store/types.js";

export interface StoreFactory {
  /** Opens a new handle on one shared, empty store. */
  open(): Promise<Store>;
  /** Removes the store after the suite. */
  destroy(): Promise<void>;
}

/** What a part of the conformance suite runs against: set once the suite's `before` has run. */
export type Suite = () => { store: Store; f: StoreFactory };

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function claimOne(store: Store, agent = "a", leaseMs = 30_000) {
  const [run] = await store.claimRuns({ workerId: "w1", agents: [agent], limit: 1, leaseMs });
  assert.ok(run, "expected a claimable run");
  return run;
}
