import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

describe("worker slots", () => {
  it("a worker holding more runs than its concurrency waits instead of spinning", () => {
    const dir = mkdtempSync(join(tmpdir(), "flotilla-oversubscribed-"));
    try {
      // In a process of its own: a loop that never yields cannot be timed out from inside.
      const r = spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          join(import.meta.dirname, "fixtures", "oversubscribedWorker.ts"),
          join(dir, "w.db"),
        ],
        { encoding: "utf8", timeout: 60_000 },
      );
      assert.equal(r.signal, null, `the worker process hung:\n${r.stderr}`);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), "done 4");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
