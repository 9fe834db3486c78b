import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A SQLite store file in a fresh directory, removed after the test file. */
export function tempStore(): string {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-test-"));
  dirs.push(dir);
  return join(dir, "flotilla.db");
}
