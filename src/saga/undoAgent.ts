import { FlotillaError, serializeError } from "../core/errors.js";
import { text, type Json } from "../core/json.js";
import { defineTool, type Tool } from "../effects/Tool.js";
import type { AgentFn } from "../runtime/Agent.js";
import type { RunContext } from "../runtime/RunContext.js";
import type { Store } from "../store/types.js";
import { planUndo, type PlannedEffect } from "./undoPlan.js";
import {
  UndoIncompleteError,
  type UndoOutcome,
  type UndoOutcomeKind,
  type UndoReport,
} from "./undoTypes.js";

/** What the undo agent needs from the process executing it. */
export interface UndoHost {
  readonly store: Store;
  readonly workerId: string;
  /** The tool defined with this name in this process (`flotilla.tool`). */
  toolByName(name: string): Tool | undefined;
}

interface CompensationArgs {
  runId: string;
  step: string;
  key: string;
  args: Json;
  result: Json;
}

const OUTCOMES: readonly UndoOutcomeKind[] = [
  "undone",
  "undone-with-side-effect",
  "not-reversible",
  "compensation-failed",
  "unsettled",
  "not-applied",
];

/** An inverse's call, its retries included, may take at least this long. */
const INVERSE_MIN_TIMEOUT_MS = 120_000;

/** The key an effect's inverse is called with: one undo per effect, whoever asks. */
export const compensationKey = (key: string): string => `undo:${key}`;

/** Settled JSON of whatever an inverse returned; what it did matters, not what it said. */
function asJson(value: unknown): Json {
  try {
    return (JSON.parse(JSON.stringify(value ?? null)) as Json) ?? null;
  } catch {
    return null;
  }
}

const inverses = new WeakMap<Tool, Tool<CompensationArgs, Json>>();

/**
 * The inverse of a tool as an effect of its own: idempotent under the key
 * `undo:<effect key>` (claimed in the store, so no two undos of one effect
 * both call it), retried by its own retry owner (`tool:undo:<name>`), with
 * the tool's timeout and error classifier.
 */
function inverseOf(tool: Tool): Tool<CompensationArgs, Json> {
  let inverse = inverses.get(tool);
  if (!inverse) {
    const compensate = tool.compensate as NonNullable<Tool["compensate"]>;
    inverse = defineTool<CompensationArgs, Json>(`undo:${tool.name}`.slice(0, 128), {
      effect: "idempotent",
      key: (a) => compensationKey(a.key),
      run: async (a, ctx) => asJson(await compensate(a.args, a.result, ctx)),
      // An undo is rarely in a hurry: its inverses may wait out a service's outage.
      timeoutMs: Math.max(tool.timeoutMs ?? 0, INVERSE_MIN_TIMEOUT_MS),
      ...(tool.classify ? { classify: tool.classify } : {}),
    });
    inverses.set(tool, inverse);
  }
  return inverse;
}

function readTools(store: Store) {
  const plan = defineTool("flotilla.undo.plan", {
    effect: "read",
    run: (a: { runId: string }) => planUndo(store, a.runId),
  });
  /** How an effect whose outcome was unknown at planning time settled since. */
  const settle = defineTool("flotilla.undo.settle", {
    effect: "read",
    run: async (a: { runId: string; step: string }) => {
      const later = await planUndo(store, a.runId);
      const found = later.effects.find((e) => e.runId === a.runId && e.step === a.step);
      if (!found) return { state: "failed" as const, result: null, reversible: false };
      if (found.action === "check-outcome") {
        throw new FlotillaError(
          "FLOTILLA_EFFECT_OUTCOME_UNKNOWN",
          `the outcome of step ${a.step} of run ${a.runId} is still unknown: decide it with flotilla resolve, then undo again`,
          { runId: a.runId, step: a.step },
        );
      }
      return {
        state: "committed" as const,
        result: found.result,
        reversible: found.action === "compensate",
      };
    },
  });
  return { plan, settle };
}

async function undoOne(
  ctx: RunContext,
  host: UndoHost,
  tools: ReturnType<typeof readTools>,
  planned: PlannedEffect,
): Promise<UndoOutcome> {
  const { args, result: recorded, ...base } = planned;
  if (base.action === "not-reversible") return { ...base, outcome: "not-reversible" };
  let result = recorded;
  if (base.action === "check-outcome") {
    try {
      const settled = await ctx.call(tools.settle, { runId: base.runId, step: base.step });
      if (settled.state === "failed") return { ...base, outcome: "not-applied" };
      if (!settled.reversible) return { ...base, outcome: "not-reversible" };
      result = settled.result;
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      return { ...base, outcome: "unsettled", error: serializeError(err) };
    }
  }
  const key = compensationKey(base.key);
  const tool = host.toolByName(base.tool);
  if (!tool?.compensate) {
    const error = new FlotillaError(
      "FLOTILLA_UNKNOWN_TOOL",
      `tool '${base.tool}' with a compensate function is not defined in worker ${host.workerId}, so its inverse cannot be called here; define it, then undo again`,
      { tool: base.tool },
    );
    return { ...base, outcome: "compensation-failed", compensationKey: key, error: error.toJSON() };
  }
  try {
    const value = await ctx.call(inverseOf(tool), { ...base, args, result });
    const outcome = base.sideEffect ? "undone-with-side-effect" : "undone";
    return { ...base, outcome, compensationKey: key, result: value };
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    const error = serializeError(err);
    // The inverse's answer was lost: it may have acted. Undoing again calls it with its key.
    const outcome = error.details?.mayHaveActed === true ? "unsettled" : "compensation-failed";
    return { ...base, outcome, compensationKey: key, error };
  }
}

/**
 * The undo saga, run durably as agent `flotilla.undo`: plans from the
 * journals (a recorded step, so a resumed undo follows the same plan), then
 * calls the inverses wave by wave, the effects of a wave concurrently. Every
 * inverse is an effect step, so a crash resumes the undo without repeating
 * one. An undo that leaves an effect in the world ends dead-lettered
 * (`compensation-failed`) with its report; a redrive tries what failed again.
 */
export function undoAgent(host: UndoHost): AgentFn<{ runId: string }, UndoReport> {
  const tools = readTools(host.store);
  return async (ctx, input) => {
    const runId = text(input.runId);
    const plan = await ctx.call(tools.plan, { runId });
    const effects: UndoOutcome[] = [];
    const waves = Math.max(-1, ...plan.effects.map((e) => e.wave));
    for (let wave = 0; wave <= waves; wave++) {
      const group = plan.effects.filter((e) => e.wave === wave);
      effects.push(
        ...(await ctx.all(group.map((e) => (c: RunContext) => undoOne(c, host, tools, e)))),
      );
    }
    const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as UndoReport["counts"];
    for (const e of effects) counts[e.outcome]++;
    const complete = counts["compensation-failed"] === 0 && counts.unsettled === 0;
    const report: UndoReport = { runId, undoRunId: ctx.runId, complete, effects, counts };
    if (!complete) throw new UndoIncompleteError(report);
    return report;
  };
}
