import { canonicalJson } from "../core/json.js";
import { fingerprint } from "../deadletter/loops.js";
import type { StepKind } from "../journal/JournalIndex.js";
import { extractAssertions, sameValue } from "./assertions.js";
import { subjectsOf, type Subject } from "./conflicts.js";
import { decide } from "./decide.js";
import { ReconcileTieError } from "./errors.js";
import { reconcileSettings, type ReconcileSettings } from "./options.js";
import { escalate } from "./policies/escalate.js";
import { pinnedVerdict, pinOf } from "./policies/preferPinned.js";
import { reAsk } from "./policies/reAsk.js";
import type { ReconcileScope, Settled, Verdict } from "./policies/verdict.js";
import { vote } from "./policies/vote.js";
import type {
  Reconciled,
  ReconciledAssertion,
  ReconcileOptions,
  ResolvedConflict,
} from "./types.js";

/**
 * The journal's kind for reconcile steps (the result, an escalation). Not a
 * member of StepKind's union yet: the replay check compares it as a string.
 */
export const RECONCILE_STEP: StepKind = "reconcile";

/**
 * `ctx.reconcile(outputs, { assertions, policy })` at fan-in: reads each
 * branch's assertions, groups them by (entity, key), and resolves every
 * group with more than one value (or, under `prefer-pinned`, a value that
 * contradicts the pin) by the policy. Groups are settled one after another,
 * so the steps they take (pin reads, pins, a re-ask, signals) are numbered
 * the same way on replay; the result is journaled as a `reconcile` step.
 */
export async function reconcile<O>(
  scope: ReconcileScope,
  outputs: readonly O[],
  options: ReconcileOptions<O>,
): Promise<Reconciled> {
  const settings = reconcileSettings(outputs, options);
  const asserted = extractAssertions(outputs, settings.assertions);
  const subjects = subjectsOf(asserted);
  const branches = outputs.length;
  const settled = new Map<Subject, Settled>();
  const forHumans: Subject[] = [];
  for (const s of subjects) {
    const verdict = await firstVerdict(scope, s, settings, branches);
    if (verdict === undefined) continue;
    if (verdict === "escalate" || ("tie" in verdict && settings.onTie === "escalate")) {
      forHumans.push(s);
      continue;
    }
    if (!("tie" in verdict)) {
      settled.set(s, await pinIfAsked(scope, s, verdict, settings));
      continue;
    }
    if (settings.onTie === "fail") throw new ReconcileTieError(s.entity, s.key, verdict.tie);
    const tied = { ...s, candidates: verdict.tie };
    const chosen = await reAsk(scope.ctx, tied, settings.reAsk!, branches);
    settled.set(s, await pinIfAsked(scope, s, chosen, settings));
  }
  if (forHumans.length > 0) {
    const verdicts = await escalate(scope, forHumans, settings.timeoutMs);
    for (const [i, s] of forHumans.entries())
      settled.set(s, await pinIfAsked(scope, s, verdicts[i]!, settings));
  }
  const result = summary(settings, branches, asserted.length, subjects, settled);
  // A new result is progress for the loop detectors; the same one again and again is not.
  return scope.step(
    "reconcile",
    () => Promise.resolve({ value: result }),
    (value) => ({ fp: fingerprint("reconcile", "reconcile", null), value }),
  );
}

/** The policy's verdict on a subject: undefined when there is nothing to resolve. */
async function firstVerdict<O>(
  scope: ReconcileScope,
  s: Subject,
  settings: ReconcileSettings<O>,
  branches: number,
): Promise<Verdict | "escalate" | undefined> {
  if (settings.policy === "prefer-pinned") {
    const pin = await pinOf(scope.ctx, s);
    if (pin) return pinnedVerdict(s, pin);
  }
  if (s.candidates.length < 2) return undefined;
  switch (settings.policy) {
    case "prefer-pinned":
    case "vote":
      return vote(s, branches);
    case "re-ask":
      return reAsk(scope.ctx, s, settings.reAsk!, branches);
    case "escalate":
      return "escalate";
  }
}

/**
 * Pins the resolved value with ctx.decide when asked to (always under
 * prefer-pinned). A value pinned meanwhile by another branch or run wins:
 * the decision stands, and the report says so.
 */
async function pinIfAsked<O>(
  scope: ReconcileScope,
  s: Subject,
  v: Settled,
  settings: ReconcileSettings<O>,
): Promise<Settled> {
  if (v.pinned || !settings.pin) return v;
  const pinned = await decide(scope, s.entity, s.key, () => v.value);
  if (sameValue(pinned, v.value)) return { ...v, pinned: true, note: `${v.note}; pinned` };
  return {
    value: pinned,
    resolution: "pinned",
    pinned: true,
    note: `${v.resolution} chose ${canonicalJson(v.value).slice(0, 60)}, but ${canonicalJson(pinned).slice(0, 60)} was pinned meanwhile and stands`,
  };
}

function summary<O>(
  settings: ReconcileSettings<O>,
  branches: number,
  asserted: number,
  subjects: readonly Subject[],
  settled: ReadonlyMap<Subject, Settled>,
): Reconciled {
  const assertions: ReconciledAssertion[] = [];
  const conflicts: ResolvedConflict[] = [];
  const resolvedBy: Reconciled["resolvedBy"] = {};
  for (const s of subjects) {
    const v = settled.get(s);
    if (!v) {
      const [only] = s.candidates as [Subject["candidates"][number]];
      assertions.push({
        entity: s.entity,
        key: s.key,
        value: only.value,
        branches: only.branches,
        conflict: false,
      });
      continue;
    }
    const backers = s.candidates.find((c) => sameValue(c.value, v.value))?.branches ?? [];
    assertions.push({
      entity: s.entity,
      key: s.key,
      value: v.value,
      branches: backers,
      conflict: true,
    });
    conflicts.push({
      entity: s.entity,
      key: s.key,
      candidates: s.candidates,
      value: v.value,
      policy: settings.policy,
      resolution: v.resolution,
      pinned: v.pinned,
      note: v.note,
    });
    resolvedBy[v.resolution] = (resolvedBy[v.resolution] ?? 0) + 1;
  }
  return { policy: settings.policy, branches, asserted, assertions, conflicts, resolvedBy };
}
