import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import ts from "typescript";

const root = join(import.meta.dirname, "..", "..");

/*
 * The CLI as a user who installed flotilla runs it: JavaScript run by plain
 * node (no tsx), through node_modules/.bin/flotilla, in a project of its own.
 * What node cannot load by itself (a TypeScript worker module) and how npx
 * starts a bin only show there. Types are stripped file by file, which takes
 * a second or two; nothing under the repository is written.
 */
export interface InstalledCli {
  /** The user's project: package.json, node_modules/{flotilla,tsx,.bin/flotilla}. */
  project: string;
  remove(): void;
}

function transpileTree(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (entry.isDirectory()) {
      transpileTree(source, join(to, entry.name));
    } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
      const out = ts.transpileModule(readFileSync(source, "utf8"), {
        compilerOptions: {
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          verbatimModuleSyntax: true,
        },
        fileName: source,
      });
      mkdirSync(to, { recursive: true });
      writeFileSync(join(to, entry.name.replace(/\.ts$/, ".js")), out.outputText);
    }
  }
}

export function installCli(): InstalledCli {
  const base = mkdtempSync(join(tmpdir(), "flotilla-installed-"));
  const pkg = join(base, "flotilla");
  const project = join(base, "project");
  for (const tree of ["src", "bench"]) transpileTree(join(root, tree), join(pkg, tree));
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    version: string;
  };
  const bin = "src/cli/main.js";
  writeFileSync(
    join(pkg, "package.json"),
    JSON.stringify({ name: "flotilla", version, type: "module", bin: { flotilla: bin } }),
  );
  chmodSync(join(pkg, bin), 0o755);
  symlinkSync(join(root, "sql"), join(pkg, "sql"));
  symlinkSync(join(root, "node_modules"), join(pkg, "node_modules"));
  mkdirSync(join(project, "node_modules", ".bin"), { recursive: true });
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({
      name: "user-project",
      version: "1.0.0",
      private: true,
      type: "module",
      dependencies: { flotilla: version },
      devDependencies: { tsx: "*" },
    }),
  );
  symlinkSync(pkg, join(project, "node_modules", "flotilla"));
  symlinkSync(join(root, "node_modules", "tsx"), join(project, "node_modules", "tsx"));
  const link = join(project, "node_modules", ".bin", "flotilla");
  symlinkSync(relative(dirname(link), join(pkg, bin)), link);
  return { project, remove: () => rmSync(base, { recursive: true, force: true }) };
}
