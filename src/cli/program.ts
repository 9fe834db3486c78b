import { Command, Option } from "commander";
import { DEFAULT_STORE } from "../store/open.js";
import { benchCommand } from "./commands/bench.js";
import { demoCommand } from "./commands/demo.js";
import {
  dlqDiscardCommand,
  dlqListCommand,
  dlqRedriveCommand,
  dlqShowCommand,
} from "./commands/dlq.js";
import { simCommand } from "./commands/sim.js";
import { fleetCommand } from "./commands/fleet.js";
import { cancelCommand, resolveCommand, retryCommand, signalCommand } from "./commands/control.js";
import { runsCommand } from "./commands/runs.js";
import { rollbackCommand } from "./commands/rollback.js";
import { serveCommand } from "./commands/serve.js";
import { showCommand } from "./commands/show.js";
import { sqlGuardCommand } from "./commands/sql.js";
import { undoCommand } from "./commands/undo.js";
import { firstLine, packageVersion } from "./output.js";
import { workerCommand } from "./commands/worker.js";

/**
 * The `flotilla` command line, made afresh for each invocation: commander
 * keeps what it parsed on the command objects, so a process that runs the
 * CLI more than once (the property tests do) needs a new program each time.
 */
export function buildProgram(): Command {
  const program = new Command();
  const storeOption = () =>
    new Option("--store <url>", "store: postgres://… or a SQLite file path").default(
      process.env.FLOTILLA_STORE ?? DEFAULT_STORE,
    );

  program
    .name("flotilla")
    .description("Durable, fault-tolerant runtime for fleets of LLM agents")
    .version(packageVersion(), "-V, --version")
    // A parse error is one line, with where to look; the usage is one --help away.
    .configureOutput({
      outputError: (text, write) =>
        write(`flotilla: ${firstLine(text).replace(/^error: /, "")} (see --help)\n`),
    })
    .exitOverride();

  program
    .command("demo")
    .description(
      "run a support-desk fleet on the simulated provider and tools, and report what happened",
    )
    .addOption(storeOption())
    .option("--agents <n>", "tickets, one agent run each", "50")
    .option("--provider <name>", "sim, or openai (needs OPENAI_API_KEY)", "sim")
    .option("--seed <n>", "seed of the simulated world", "1")
    .option("--json", "one JSON object on stdout")
    .action(demoCommand);

  program
    .command("fleet")
    .description(
      "fleet scheduling metrics shared through the limiter: queues, waits, admitted rate, 429 share, tenants",
    )
    .addOption(storeOption())
    .option("--json", "one JSON object on stdout")
    .action(fleetCommand);

  program
    .command("sim")
    .description(
      "run the simulated provider or tool services (deterministic from a seed) until interrupted",
    )
    .argument("<provider|tools>")
    .option("--port <n>", "port on 127.0.0.1 (default: any free port)")
    .option("--seed <n>", "seed of every random decision")
    .option("--config <file>", "JSON options: limits, faults, outages, latency, …")
    .option("--json", "print the URLs as one JSON object")
    .action(simCommand);

  program
    .command("serve")
    .description(
      "the HTTP API and the web dashboard on a store (runs, timelines, actions, dead letters, fleet, cost)",
    )
    .addOption(storeOption())
    .option("--port <n>", "TCP port (0: any free port)", "8420")
    .option("--host <address>", "address to bind; without tokens only loopback", "127.0.0.1")
    .option(
      "--tokens-file <file>",
      "name:token:tenant lines (as FLOTILLA_TOKENS; tenant * sees all)",
    )
    .option(
      "--fleet <url>",
      "the shared limiter the fleet schedulers publish to (postgres:// or redis://)",
    )
    .option("--json", "print { url, host, port, authenticated } as one JSON line once listening")
    .action(serveCommand);

  program
    .command("runs")
    .description("list runs, newest first")
    .addOption(storeOption())
    .option("--status <status>", "only runs in this status")
    .option("--limit <n>", "at most this many", "50")
    .option("--json", "one JSON object on stdout")
    .action(runsCommand);

  program
    .command("show")
    .description("a run and the timeline of its journal")
    .argument("<runId>")
    .addOption(storeOption())
    .option("--json", "one JSON object on stdout")
    .action(showCommand);

  program
    .command("cancel")
    .description("cancel a run and print its receipt")
    .argument("<runId>")
    .addOption(storeOption())
    .option("--reason <text>", "why, recorded in the journal")
    .option("--compensate", "then undo what the run committed, and print the undo report")
    .option("--json", "one JSON object on stdout")
    .action(cancelCommand);

  program
    .command("undo")
    .description(
      "undo an ended run and its children: call the inverse of each committed effect, latest first (the run's workers perform them)",
    )
    .argument("<runId>")
    .addOption(storeOption())
    .option("--plan", "only show what would be done about each effect")
    .option("--timeout <s>", "seconds to wait for the report (the undo goes on after)", "300")
    .option("--json", "one JSON object on stdout")
    .action(undoCommand);

  program
    .command("rollback")
    .description(
      "restore the rows a run (and its children) wrote through the SQL tool, latest first; rows changed since by anyone else are reported, not overwritten",
    )
    .argument("<runId>")
    .addOption(storeOption())
    .addOption(
      new Option("--sql <url>", "the guarded database: postgres://… or a SQLite file")
        .env("FLOTILLA_SQL")
        .makeOptionMandatory(),
    )
    .option("--plan", "only show what would be restored and what conflicts")
    .option("--batch <n>", "row changes per transaction", "500")
    .option("--json", "one JSON object on stdout")
    .action(rollbackCommand);

  const sql = program
    .command("sql")
    .description(
      "the guarded SQL tool's database: audit triggers that make agent writes reversible",
    );

  sql
    .command("guard")
    .description(
      "install audit triggers on tables: every write keeps its before- and after-image and the run that made it",
    )
    .argument("<url>", "postgres://… or a SQLite file")
    .argument("<tables...>")
    .option("--json", "one JSON object on stdout")
    .action(sqlGuardCommand);

  program
    .command("retry")
    .description("resume a failed run from its journal (after a fix): the failed step runs again")
    .argument("<runId>")
    .addOption(storeOption())
    .option("--reason <text>", "why, recorded in the journal")
    .option("--json", "one JSON object on stdout")
    .action(retryCommand);

  program
    .command("resolve")
    .description("decide an effect whose outcome is unknown, so its parked run resumes")
    .argument("<runId>")
    .argument("<step>")
    .addOption(storeOption())
    .option("--committed", "the effect happened")
    .option("--result <json>", "with --committed: the result the agent should see")
    .option("--retry", "the effect did not happen: call the tool again with the same key")
    .option("--failed", "the effect did not happen: fail the step")
    .option("--reason <text>", "with --failed: why")
    .option("--json", "one JSON object on stdout")
    .action(resolveCommand);

  program
    .command("signal")
    .description("send a signal (e.g. an approval) to a run waiting in ctx.waitFor")
    .argument("<runId>")
    .argument("<name>")
    .addOption(storeOption())
    .option("--payload <json>", "JSON payload", undefined)
    .option("--json", "one JSON object on stdout")
    .action(signalCommand);

  const dlq = program
    .command("dlq")
    .description("the dead-letter queue: runs that could not complete, and what to do with them");

  dlq
    .command("list")
    .description("dead letters, newest first")
    .addOption(storeOption())
    .option("--class <class>", "only this class (e.g. loop-detected)")
    .option("--status <status>", "open, redriven, discarded or resolved")
    .option("--limit <n>", "at most this many", "50")
    .option("--json", "one JSON object on stdout")
    .action(dlqListCommand);

  dlq
    .command("show")
    .description("one dead letter with its input, checkpoint, attempts, cost and effects")
    .argument("<id>")
    .addOption(storeOption())
    .option("--json", "one JSON object on stdout")
    .action(dlqShowCommand);

  dlq
    .command("redrive")
    .description("resume from the last checkpoint (no effect repeated), optionally patched")
    .argument("[id]")
    .addOption(storeOption())
    .option("--class <class>", "every open dead letter of this class instead of one")
    .option("--patch <file>", "JSON: { input?, model?, budget? }")
    .option("--rate <n>", "with --class: redrives per second", "5")
    .option("--reason <text>", "why, recorded in the journal")
    .option("--json", "one JSON object on stdout")
    .action(dlqRedriveCommand);

  dlq
    .command("discard")
    .description("close a dead letter without running it again")
    .argument("<id>")
    .addOption(storeOption())
    .option("--reason <text>", "why (required), recorded in the journal")
    .option("--json", "one JSON object on stdout")
    .action(dlqDiscardCommand);

  program
    .command("worker")
    .description("run agents from a module exporting setup(flotilla)")
    .argument("<module>")
    .addOption(storeOption())
    .option("--concurrency <n>", "runs executed at once", "16")
    .option("--lease-ms <ms>", "lease length; a dead worker's runs resume after it", "30000")
    .option("--json", "one JSON line on stdout per event: started, a run failed, parked, …")
    .action(workerCommand);

  program
    .command("bench")
    .description(
      "reproduce a failure mode and measure Flotilla against a baseline (crash, faults, journal, retry, fleet, runaway, vector, undo, cancel, state, consistency, rollback)",
    )
    .argument("<name>")
    .addOption(storeOption().default(undefined, "temporary stores"))
    .option("--json", "one JSON object on stdout")
    .option("--quick", "a smaller run")
    .option("--seed <n>", "seed for the random choices")
    .action(benchCommand);
  return program;
}
