import type { Json } from "../../src/core/json.js";
import { escalatedConflicts } from "../../src/consistency/policies/escalate.js";
import type { ReconcilePolicy, Reconciled } from "../../src/consistency/types.js";
import type { LlmProvider } from "../../src/providers/types.js";
import { Flotilla } from "../../src/runtime/Flotilla.js";
import type { RunContext } from "../../src/runtime/RunContext.js";
import {
  ASPECTS,
  classifierRequest,
  factsOf,
  JUDGE,
  parseClassified,
  type Case,
  type Classified,
} from "./scenario.js";
import { tally, type Tally } from "./tally.js";

/** Each ticket's fan-in policy, by ticket number: every policy meets a quarter of the tickets. */
export const POLICIES: readonly ReconcilePolicy[] = ["vote", "prefer-pinned", "re-ask", "escalate"];

/** What a triage run returns: what its branches said and what its composer used. */
interface Triage {
  policy: ReconcilePolicy;
  /** Each branch's own reading (its plan before ctx.decide pinned one). */
  said: Pick<Classified, "plan" | "orderStatus">[];
  /** The values of each fact handed to the composer: one each when nothing slipped through. */
  composer: { plan: Json[]; status: Json[] };
  reconciled: Pick<Reconciled, "conflicts" | "resolvedBy">;
}

export interface FlotillaFigures extends Tally {
  contradictionsReachingComposer: number;
  /** Contradictions found: plans the branches disagreed on that ctx.decide pinned, plus conflicts ctx.reconcile found. */
  detected: number;
  /** Contradictions by what resolved them: ctx.decide, or ctx.reconcile under each policy. */
  resolvedBy: Record<string, number>;
  /** Conflicts ctx.reconcile resolved, by how (a vote tie re-asked counts as re-ask). */
  reconcileResolutions: Record<string, number>;
  humanSignals: number;
  failedRuns: number;
  errors: string[];
}

/**
 * The same fan-out as Flotilla runs: each classifier branch makes the same
 * call through ctx.llm, pins the customer's plan with ctx.decide (the first
 * branch's reading wins; the others get it), and the composer gets the
 * facts from ctx.reconcile under the ticket's policy (ties re-asked). A
 * simulated human answers escalations with the true value.
 */
export async function flotillaColumn(
  store: string,
  provider: LlmProvider,
  cases: readonly Case[],
  truth: ReadonlyMap<string, string>,
  concurrency: number,
  tick: () => void,
): Promise<FlotillaFigures> {
  const f = await Flotilla.open({
    store,
    providers: { default: provider },
    worker: { concurrency, pollMs: 20 },
  });
  const human = { signals: 0, sent: new Set<string>(), stop: false };
  try {
    const triage = f.agent("bench.consistency.triage", async (ctx, i: number): Promise<Triage> => {
      const c = cases[i] as Case;
      const policy = POLICIES[i % POLICIES.length] as ReconcilePolicy;
      const outputs = await ctx.all(
        ASPECTS.map((aspect) => (b: RunContext) => classify(b, c, aspect)),
      );
      const rec = await ctx.reconcile(outputs, {
        assertions: (o) => factsOf(c, o),
        policy,
        ...(policy === "vote" || policy === "prefer-pinned" ? { onTie: "re-ask" as const } : {}),
        reAsk: { model: JUDGE, context: `Ticket ${c.i}` },
      });
      const used = (entity: string, key: string) =>
        rec.assertions.filter((a) => a.entity === entity && a.key === key).map((a) => a.value);
      return {
        policy,
        said: outputs.map((o) => ({ plan: o.proposed, orderStatus: o.orderStatus })),
        composer: { plan: used(c.customer, "plan"), status: used(c.order, "status") },
        reconciled: { conflicts: rec.conflicts, resolvedBy: rec.resolvedBy },
      };
    });
    const runs = await Promise.all(cases.map((c) => f.start(triage, c.i)));
    const escalating = runs.filter((_, i) => POLICIES[i % POLICIES.length] === "escalate");
    const answering = answerEscalations(
      f,
      escalating.map((r) => r.id),
      truth,
      human,
    );
    const results = await Promise.all(
      runs.map((r) =>
        r.result({ timeoutMs: 300_000 }).then(
          (t) => {
            tick();
            return t;
          },
          (err: unknown) => {
            tick();
            return err instanceof Error ? err : new Error(String(err));
          },
        ),
      ),
    );
    human.stop = true;
    await answering;
    return figures(cases, results, human.signals);
  } finally {
    human.stop = true;
    await f.close();
  }
}

async function classify(b: RunContext, c: Case, aspect: string) {
  const r = await b.llm(classifierRequest(c, aspect), { output: { parse: parseClassified } });
  const mine = r.parsed as Classified;
  const plan = await b.decide(c.customer, "plan", () => mine.plan);
  return { aspect, label: mine.label, proposed: mine.plan, plan, orderStatus: mine.orderStatus };
}

/** The simulated human: every 50 ms, answers each escalated conflict with the true value. */
async function answerEscalations(
  f: Flotilla,
  runIds: readonly string[],
  truth: ReadonlyMap<string, string>,
  human: { signals: number; sent: Set<string>; stop: boolean },
): Promise<void> {
  while (!human.stop) {
    for (const id of runIds)
      for (const e of await escalatedConflicts(f, id)) {
        const sent = `${id} ${e.signal}`;
        if (human.sent.has(sent)) continue;
        human.sent.add(sent);
        human.signals++;
        await f.signal(id, e.signal, {
          value: truth.get(JSON.stringify([e.entity, e.key])) ?? null,
        });
      }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function figures(
  cases: readonly Case[],
  results: readonly (Triage | Error)[],
  humanSignals: number,
): FlotillaFigures {
  const said: Triage["said"][] = [];
  const composed: { plan: string; status: string }[] = [];
  const resolvedBy: Record<string, number> = { decide: 0 };
  const how: Record<string, number> = {};
  let reaching = 0;
  let reconciled = 0;
  const errors: string[] = [];
  for (const c of cases) {
    const t = results[c.i];
    if (!t || t instanceof Error) {
      errors.push(t?.message ?? "no result");
      continue;
    }
    said[c.i] = t.said;
    // ctx.decide gave every branch one plan: the branches' own readings show what it settled.
    if (new Set(t.said.map((s) => s.plan)).size > 1)
      resolvedBy.decide = (resolvedBy.decide ?? 0) + 1;
    reaching +=
      Number(new Set(t.composer.plan).size > 1) + Number(new Set(t.composer.status).size > 1);
    composed[c.i] = { plan: t.composer.plan[0] as string, status: t.composer.status[0] as string };
    for (const k of t.reconciled.conflicts) {
      reconciled++;
      resolvedBy[t.policy] = (resolvedBy[t.policy] ?? 0) + 1;
      how[k.resolution] = (how[k.resolution] ?? 0) + 1;
    }
  }
  return {
    contradictionsReachingComposer: reaching,
    detected: (resolvedBy.decide ?? 0) + reconciled,
    resolvedBy,
    reconcileResolutions: how,
    humanSignals,
    ...tally(cases, said, composed),
    failedRuns: errors.length,
    errors: errors.slice(0, 3),
  };
}
