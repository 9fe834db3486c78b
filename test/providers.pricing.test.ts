import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { costUsd, priceFor } from "../src/providers/pricing.js";

void describe("pricing", () => {
  void it("finds a dated snapshot's family by the longest matching prefix", () => {
    assert.deepEqual(priceFor("gpt-4o-mini-2024-07-18"), priceFor("gpt-4o-mini"));
    assert.notDeepEqual(priceFor("gpt-4o-mini-2024-07-18"), priceFor("gpt-4o"));
    assert.equal(priceFor("gpt-4oops"), undefined);
  });

  void it("charges cached input at the cache price", () => {
    const prices = { m: { input: 2, output: 10, cachedInput: 0.5 } };
    const cost = costUsd(
      "m",
      { inputTokens: 1_000_000, cachedInputTokens: 400_000, outputTokens: 100_000 },
      prices,
    );
    assert.equal(cost, 0.6 * 2 + 0.4 * 0.5 + 0.1 * 10);
  });

  void it("lets the user override and add models", () => {
    const prices = {
      "gpt-4o": { input: 0, output: 0 },
      "llama-3-local": { input: 0.01, output: 0.02 },
    };
    assert.equal(costUsd("gpt-4o", { inputTokens: 10, outputTokens: 10 }, prices), 0);
    assert.equal(costUsd("llama-3-local", { inputTokens: 1e6, outputTokens: 1e6 }, prices), 0.03);
  });

  void it("reports no cost, not zero, for an unknown model", () => {
    assert.equal(costUsd("mystery-model", { inputTokens: 10, outputTokens: 10 }), undefined);
  });
});
