import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isFlotillaError } from "../src/core/errors.js";
import { Flotilla } from "../src/index.js";
import { openStore } from "../src/store/open.js";

const storeModule = join(import.meta.dirname, "..", "src", "store", "open.ts");

describe("SQLite worker ownership", () => {
  it("refuses a second worker process while the first lives, and takes over once it is killed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flotilla-owner-"));
    const path = join(dir, "f.db");
    const script = `const { openStore } = await import(${JSON.stringify(storeModule)});
      const s = await openStore(${JSON.stringify(path)});
      await s.registerWorker("other");
      process.stdout.write("owner\\n");
      setInterval(() => undefined, 1000);`;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.once("data", () => resolve());
        child.once("exit", (code) => reject(new Error(`owner exited with ${code}`)));
      });
      const store = await openStore(path);
      try {
        await assert.rejects(store.registerWorker("me"), (e) =>
          isFlotillaError(e, "FLOTILLA_STORE_OWNED"),
        );
        await new Promise<void>((resolve) => {
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        });
        await store.registerWorker("me");
      } finally {
        await store.close();
      }
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a second live worker in the same process, and admits one after the first stops", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flotilla-owner-"));
    const path = join(dir, "f.db");
    const first = await openStore(path);
    const second = await openStore(path);
    try {
      await first.registerWorker("first");
      await assert.rejects(
        second.registerWorker("second"),
        (e) =>
          isFlotillaError(e, "FLOTILLA_STORE_OWNED") &&
          /worker first in this process/.test(e.message),
      );
      await first.unregisterWorker("first");
      await second.registerWorker("second");
      await second.close();
      // A closed handle's worker is gone even though it never unregistered.
      await first.registerWorker("third");
    } finally {
      await first.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a run to a second Flotilla on the same file before creating it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flotilla-owner-"));
    const path = join(dir, "f.db");
    const a = await Flotilla.open({ store: path });
    const b = await Flotilla.open({ store: path });
    try {
      const echo = async (_ctx: unknown, x: number) => x;
      await a.start(a.agent("echo", echo), 1);
      await assert.rejects(b.start(b.agent("echo", echo), 2), (e) =>
        isFlotillaError(e, "FLOTILLA_STORE_OWNED"),
      );
      assert.equal((await b.store.listRuns()).length, 1);
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
