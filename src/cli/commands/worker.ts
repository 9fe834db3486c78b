import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { InvalidArgumentError } from "../../core/errors.js";
import { Flotilla } from "../../runtime/Flotilla.js";
import { UNDO_AGENT } from "../../saga/undoPlan.js";
import { positiveInteger } from "../numbers.js";

type Setup = (flotilla: Flotilla) => void | Promise<void>;

/** Runs agents from a user module that exports `setup(flotilla)` (or a default function). */
export async function workerCommand(
  modulePath: string,
  opts: { store: string; concurrency: string; leaseMs: string },
): Promise<void> {
  const mod = (await import(pathToFileURL(resolve(modulePath)).href)) as {
    setup?: Setup;
    default?: Setup;
  };
  const setup = mod.setup ?? mod.default;
  if (typeof setup !== "function") {
    throw new InvalidArgumentError(
      `${modulePath} must export a function setup(flotilla) (named or default)`,
    );
  }
  const flotilla = await Flotilla.open({ store: opts.store, worker: false });
  await setup(flotilla);
  const agents = flotilla.agentNames().filter((name) => name !== UNDO_AGENT);
  if (agents.length === 0) throw new InvalidArgumentError(`${modulePath} defined no agents`);
  const worker = await flotilla.worker({
    concurrency: positiveInteger("--concurrency", opts.concurrency),
    leaseMs: positiveInteger("--lease-ms", opts.leaseMs),
  });
  process.stderr.write(
    `flotilla worker ${flotilla.workerId} on ${flotilla.store.location}: agents ${agents.join(", ")} (and undos of their runs)\n`,
  );
  await new Promise<void>((done) => {
    const stop = () => {
      process.stderr.write("stopping: finishing runs in progress\n");
      void worker
        .stop()
        .then(() => flotilla.close())
        .then(done);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
