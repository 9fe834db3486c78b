import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  formatResetDuration,
  parseRateLimitHeaders,
  parseResetDuration,
  parseRetryAfter,
} from "../src/providers/rateLimitHeaders.js";

const NOW = Date.parse("2025-06-01T12:00:00Z");

void describe("parseResetDuration", () => {
  void it("reads OpenAI's duration formats", () => {
    assert.equal(parseResetDuration("1s"), 1000);
    assert.equal(parseResetDuration("6m0s"), 360_000);
    assert.equal(parseResetDuration("20ms"), 20);
    assert.equal(parseResetDuration("1h2m3.5s"), 3_723_500);
    assert.equal(parseResetDuration("0.25s"), 250);
    assert.equal(parseResetDuration("2"), 2000);
  });

  void it("rejects what is not a duration", () => {
    for (const bad of ["", "soon", "5x", "-1s", "1s2h"])
      assert.equal(parseResetDuration(bad), undefined);
  });

  void it("round-trips whatever the simulator formats", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 3_600_000 }), (ms) => {
        assert.equal(parseResetDuration(formatResetDuration(ms)), ms);
      }),
    );
  });
});

void describe("parseRetryAfter", () => {
  void it("reads delay-seconds and HTTP-dates", () => {
    assert.equal(parseRetryAfter("3", NOW), 3000);
    assert.equal(parseRetryAfter("1.5", NOW), 1500);
    assert.equal(parseRetryAfter(new Date(NOW + 7000).toUTCString(), NOW), 7000);
    assert.equal(parseRetryAfter(new Date(NOW - 7000).toUTCString(), NOW), 0);
    assert.equal(parseRetryAfter("later", NOW), undefined);
  });
});

void describe("parseRateLimitHeaders", () => {
  void it("reads OpenAI's headers", () => {
    const state = parseRateLimitHeaders(
      new Headers({
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-tokens": "29000",
        "x-ratelimit-reset-tokens": "2s",
      }),
      NOW,
    );
    assert.deepEqual(state, {
      limitRequests: 500,
      remainingRequests: 499,
      resetRequestsMs: 120,
      limitTokens: 30_000,
      remainingTokens: 29_000,
      resetTokensMs: 2000,
    });
  });

  void it("reads Anthropic's headers and RFC 3339 resets", () => {
    const at = (ms: number): string => new Date(NOW + ms).toISOString();
    const state = parseRateLimitHeaders(
      {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": at(1200),
        "anthropic-ratelimit-input-tokens-limit": "40000",
        "anthropic-ratelimit-input-tokens-remaining": "100",
        "anthropic-ratelimit-input-tokens-reset": at(3000),
        "anthropic-ratelimit-output-tokens-limit": "8000",
        "anthropic-ratelimit-output-tokens-remaining": "8000",
        "anthropic-ratelimit-output-tokens-reset": at(500),
        "Retry-After": "2",
      },
      NOW,
    );
    assert.deepEqual(state, {
      limitRequests: 50,
      remainingRequests: 0,
      resetRequestsMs: 1200,
      limitInputTokens: 40_000,
      remainingInputTokens: 100,
      limitOutputTokens: 8000,
      remainingOutputTokens: 8000,
      resetTokensMs: 3000,
      retryAfterMs: 2000,
    });
  });

  void it("prefers retry-after-ms over retry-after", () => {
    const state = parseRateLimitHeaders({ "retry-after-ms": "250", "retry-after": "9" }, NOW);
    assert.equal(state.retryAfterMs, 250);
  });

  void it("ignores malformed values instead of throwing", () => {
    const state = parseRateLimitHeaders(
      {
        "x-ratelimit-limit-requests": "lots",
        "x-ratelimit-reset-tokens": "soon",
        "retry-after": "?",
      },
      NOW,
    );
    assert.deepEqual(state, {});
  });

  void it("never throws and never yields negative or non-finite numbers, whatever the headers", () => {
    const names = [
      "x-ratelimit-limit-requests",
      "x-ratelimit-reset-tokens",
      "anthropic-ratelimit-tokens-reset",
      "anthropic-ratelimit-input-tokens-remaining",
      "retry-after",
      "retry-after-ms",
    ];
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...names), fc.string()), (headers) => {
        for (const value of Object.values(parseRateLimitHeaders(headers, NOW))) {
          assert.ok(Number.isFinite(value) && value >= 0, `got ${String(value)}`);
        }
      }),
    );
  });
});
