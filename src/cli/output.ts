import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
/** CLI output conventions: human text by default, exactly one JSON object on stdout with --json. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(line = ""): void {
  process.stdout.write(`${line}\n`);
}

/** One compact JSON object per line, for a command that reports as it goes (`worker --json`). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

let onStdoutClosed: (() => void) | undefined;

/** What to do instead of exiting at once when stdout's reader goes away (a worker first stops). */
export function whenStdoutCloses(fn: () => void): void {
  onStdoutClosed = fn;
}

/**
 * A reader that stops early (`flotilla show … | head -3`) closes the pipe:
 * nothing more can be printed, and that is no error. Ends quietly (status 0)
 * instead of dying on EPIPE with a stack trace; other stdout errors surface.
 */
export function endQuietlyWhenStdoutCloses(stdout: NodeJS.WriteStream = process.stdout): void {
  stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
    if (onStdoutClosed) onStdoutClosed();
    else process.exit(0);
  });
}

/** Fixed-width table for human output. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function ago(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

/** The first non-empty line of a message. */
export function firstLine(text: string): string {
  return text.split("\n").find((l) => l.trim() !== "") ?? text;
}

/** This package's version, from its package.json (found from src/ or dist/src/). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "flotilla" && pkg.version) return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return "unknown";
    dir = parent;
  }
}
