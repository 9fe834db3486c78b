import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

const root = join(import.meta.dirname, "..");

/** The first TypeScript block under the README's "## Using it", as a user would copy it. */
function usingItSnippet(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.split(/^## Using it$/m)[1];
  assert.ok(section, 'README.md has no "## Using it" section');
  const block = /^```ts\n([\s\S]*?)^```$/m.exec(section);
  assert.ok(block?.[1], 'README.md\'s "Using it" has no ```ts block');
  return block[1];
}

function run(command: string, args: string[], cwd: string) {
  // A snippet that leaves the process running (no close()) fails here instead of hanging.
  const r = spawnSync(command, args, { cwd, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

describe("README's Using it", () => {
  it("type-checks and runs as written in a fresh ESM project, then exits", () => {
    // The package as npm installs it: its package.json exports, its built JavaScript and types.
    const build = run(
      process.execPath,
      [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
      root,
    );
    assert.equal(build.code, 0, build.out);
    const project = mkdtempSync(join(tmpdir(), "flotilla-readme-"));
    try {
      mkdirSync(join(project, "node_modules"));
      symlinkSync(root, join(project, "node_modules", "flotilla"));
      symlinkSync(join(root, "node_modules", "tsx"), join(project, "node_modules", "tsx"));
      writeFileSync(
        join(project, "package.json"),
        JSON.stringify({ name: "scratch", version: "1.0.0", type: "module" }),
      );
      writeFileSync(
        join(project, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            module: "NodeNext",
            moduleResolution: "NodeNext",
            target: "ES2022",
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            typeRoots: [join(root, "node_modules", "@types")],
            types: ["node"],
          },
          files: ["index.ts"],
        }),
      );
      writeFileSync(join(project, "index.ts"), usingItSnippet());

      const types = run(process.execPath, [join(root, "node_modules/typescript/bin/tsc")], project);
      assert.equal(types.code, 0, types.out);

      const snippet = run(process.execPath, ["--import", "tsx", "index.ts"], project);
      assert.equal(snippet.signal, null, `the snippet did not exit by itself:\n${snippet.out}`);
      assert.equal(snippet.code, 0, snippet.out);
      assert.match(snippet.stdout, /chargeId: 'charge:A-1'/);
      assert.match(snippet.stdout, /approval: \{ by: 'ana' \}/);
      assert.match(snippet.stdout, /^true 0$/m, "the undo refunded the charge");
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
