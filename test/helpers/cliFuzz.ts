import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import fc from "fast-check";
import { buildProgram } from "../../src/cli/program.js";
import { runCli } from "../../src/cli/run.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import { SqliteDriver } from "../../src/store/sqlite/driver.js";
import { assertNoUnhandled, propertyParams, propertyStore } from "./property.js";

/*
 * The CLI property test's runner, in a process of its own (the test runner
 * reports through stdout, which the CLI's output is captured from here):
 * `node --import tsx test/helpers/cliFuzz.ts <command> [<subcommand>]` runs
 * that command with generated arguments and flags, in-process, and exits 0
 * when every case held. The cases are what users type by mistake (and some
 * they type on purpose). The outcome is a success (exit 0) or a refusal (exit
 * 1 or 2) said in one `flotilla: …` line on stderr, never a stack trace or a
 * hang; a refused call leaves the store as it was, and a --store path that
 * does not exist is never created.
 *
 * Commands that run until stopped or for minutes when their input is valid
 * (demo, bench, serve, sim, worker, undo, rollback) get their subject from
 * pools that are refused before anything runs (an unknown bench, a run that
 * does not exist, a module that is not there); their valid paths are tested
 * in their own files.
 */

const LONG_RUNNING = new Set(["demo", "bench", "serve", "sim", "worker", "undo", "rollback"]);

const store = propertyStore();
const runIds: string[] = [];

async function seed(): Promise<void> {
  const f = await Flotilla.open({ store: store.path });
  try {
    const echo = f.agent("echo", (_ctx, input: unknown) => Promise.resolve(input));
    const fail = f.agent("fail", () => Promise.reject(new Error("no")));
    for (const [agent, input] of [
      [echo, { a: 1 }],
      [fail, null],
    ] as const) {
      const run = await f.start(agent, input);
      await run.result().catch(() => undefined);
      runIds.push(run.id);
    }
  } finally {
    await f.close();
  }
}

/** What a refused call must leave unchanged: every table's row count and largest rowid, every run's status. */
function digest(path: string): string {
  const db = new SqliteDriver(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as { name: string }[];
    const counts = tables.map(({ name }) => {
      const q = `SELECT count(*) AS n FROM "${name}"`;
      return `${name}:${(db.prepare(q).get() as { n: number }).n}`;
    });
    const runs = db.prepare("SELECT id, status, updated_at FROM runs ORDER BY id").all();
    return JSON.stringify({ counts, runs });
  } finally {
    db.close();
  }
}

const missingStore = () => join(store.path, "..", "no", "such", "dir", "x.db");

/** Values users pass where a value goes. */
function values(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...runIds),
    fc.constantFrom("", " ", "0", "1", "-1", "2", "1e309", "NaN", "Infinity", "0x10", "1.5"),
    fc.constantFrom("9007199254740993", "-0", "null", "{}", "[]", '{"a":', "--", "-", "\u0000"),
    fc.constantFrom("pending", "running", "completed", "failed", "parked", "cancelled"),
    fc.constantFrom(store.path, missingStore(), "/dev/null", "/", "postgres://", "mysql://x"),
    fc.string({ maxLength: 12 }),
    fc.string({ unit: "grapheme", maxLength: 8 }),
    fc.integer().map(String),
  );
}

interface CommandShape {
  path: string[];
  positionals: number;
  variadic: boolean;
  flags: { name: string; takesValue: boolean }[];
}

function shapes(program: Command, prefix: string[] = []): CommandShape[] {
  return program.commands.flatMap((c) => {
    const path = [...prefix, c.name()];
    if (c.commands.length > 0) return shapes(c, path);
    const args = c.registeredArguments;
    return [
      {
        path,
        positionals: args.length,
        variadic: args.some((a) => a.variadic),
        flags: c.options.map((o) => ({ name: o.long ?? o.flags, takesValue: o.required })),
      },
    ];
  });
}

/** Positional arguments of long-running commands that are refused before anything runs. */
function refusedSubject(command: string): fc.Arbitrary<string> {
  switch (command) {
    case "bench":
    case "sim":
      return fc.string({ maxLength: 10 }).map((s) => `no-such-${s}`);
    case "worker":
      return fc.constantFrom("./missing-module.js", "", "/", "missing.ts");
    default:
      return fc.string({ maxLength: 10 }).map((s) => `no-such-run-${s}`);
  }
}

function argv(shape: CommandShape): fc.Arbitrary<string[]> {
  const command = shape.path[0]!;
  const long = LONG_RUNNING.has(command);
  const positional = long ? refusedSubject(command) : values();
  const flag = fc.oneof(
    ...shape.flags.map((f) =>
      f.takesValue
        ? f.name === "--store"
          ? fc.constantFrom(store.path, missingStore()).map((v) => [f.name, v])
          : values().map((v) => [f.name, v])
        : fc.constant([f.name]),
    ),
    fc.string({ maxLength: 6 }).map((s) => [`--${s}`]),
  );
  const count = shape.positionals + (shape.variadic ? 2 : 0);
  return fc
    .tuple(
      fc.array(positional, { minLength: 0, maxLength: count + 1 }),
      fc.array(flag, { maxLength: 4 }),
    )
    .map(([pos, flags]) => {
      const out = [...shape.path, ...pos, ...flags.flat()];
      // Without --store, commands use the default store in the working directory: pin it.
      if (!out.includes("--store") && shape.flags.some((f) => f.name === "--store"))
        out.push("--store", store.path);
      // demo runs its fleet when its flags are valid: an --agents it refuses keeps it a parse check.
      if (command === "demo") out.push("--agents", "0");
      // serve listens until stopped when its flags are valid: a port it refuses does the same.
      if (command === "serve") out.push("--port", "-1");
      return out;
    });
}

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function capture(args: string[]): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const write = (sink: string[]) =>
    ((chunk: string | Uint8Array) => {
      sink.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
      return true;
    }) as typeof process.stdout.write;
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  const stderrWrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = write(out);
  process.stderr.write = write(err);
  process.exitCode = undefined;
  try {
    const code = await runCli(args);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
    process.exitCode = undefined;
  }
}

async function main(): Promise<void> {
  const path = process.argv.slice(2);
  const shape = shapes(buildProgram()).find((s) => s.path.join(" ") === path.join(" "));
  if (!shape) throw new Error(`no command flotilla ${path.join(" ")}`);
  await seed();
  try {
    await fc.assert(
      fc.asyncProperty(argv(shape), async (args) => {
        const before = digest(store.path);
        const r = await Promise.race([
          capture(args),
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error(`flotilla ${args.join(" ")} hung`)), 20_000).unref(),
          ),
        ]);
        const shown = `flotilla ${JSON.stringify(args)} → ${r.code}\n${r.stderr}`;
        assert.ok([0, 1, 2].includes(r.code), shown);
        assert.doesNotMatch(r.stderr, /\n\s+at /, `a stack trace: ${shown}`);
        if (r.code !== 0) {
          assert.match(r.stderr, /^flotilla: .+\n$/, shown);
          assert.equal(digest(store.path), before, `a refused call changed the store: ${shown}`);
        }
        assert.equal(existsSync(missingStore()), false, `created a missing store: ${shown}`);
        assertNoUnhandled();
      }),
      propertyParams(60),
    );
  } finally {
    store.remove();
  }
}

await main();
