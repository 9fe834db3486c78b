import type { Json } from "../../src/core/json.js";
import { rngFor } from "../../src/core/rng.js";
import type { LlmRequest } from "../../src/providers/types.js";
import type { SimChatRequest, SimReply } from "../../src/sim/index.js";

/**
 * The fan-out both columns run: a support ticket read by five parallel
 * classifiers (each its own aspect), every one of which also states two
 * facts about the ticket's entities, the customer's plan and the order's
 * status. At temperature > 0 a classifier misreads a fact now and then (more
 * often on the hard tickets), so the branches disagree in a share of cases.
 */
export const MODEL = "sim-classifier";
export const JUDGE = "sim-judge";
export const TEMPERATURE = 0.8;
export const ASPECTS = ["refund", "priority", "routing", "sentiment", "churn-risk"] as const;
export const PLANS = ["free", "pro", "enterprise"] as const;
export const STATUSES = ["pending", "shipped", "lost"] as const;
/** A fact misread with probability temperature × this: hard tickets are ambiguous. */
const MISREAD = { easy: 0.03, hard: 0.35 };
const HARD_SHARE = 0.25;
/** How often the judge model, re-asked at temperature 0, picks the true value when it is a candidate. */
const JUDGE_ACCURACY = 0.85;

export interface Case {
  i: number;
  customer: string;
  order: string;
  hard: boolean;
  truth: { plan: string; status: string };
}

/** The true value of each fact, by JSON [entity, key]: what the judge and the human know. */
export function truthByFact(cases: readonly Case[]): Map<string, string> {
  const truth = new Map<string, string>();
  for (const c of cases) {
    truth.set(JSON.stringify([c.customer, "plan"]), c.truth.plan);
    truth.set(JSON.stringify([c.order, "status"]), c.truth.status);
  }
  return truth;
}

export function casesFor(seed: number, runs: number): Case[] {
  return Array.from({ length: runs }, (_, i) => {
    const rng = rngFor(seed, "case", i);
    return {
      i,
      customer: `customer:${i}`,
      order: `order:${10_000 + i}`,
      hard: rng.next() < HARD_SHARE,
      truth: { plan: rng.pick(PLANS), status: rng.pick(STATUSES) },
    };
  });
}

/** What one classifier answers: its aspect's label, and the two facts as it read them. */
export interface Classified {
  label: string;
  plan: string;
  orderStatus: string;
}

/** The request a classifier branch sends: byte for byte the same in both columns. */
export function classifierRequest(c: Case, aspect: string): LlmRequest {
  return {
    model: MODEL,
    temperature: TEMPERATURE,
    maxTokens: 64,
    messages: [
      { role: "system", content: "You triage support tickets. Answer with JSON only." },
      {
        role: "user",
        content:
          `Case ${c.i}. ${c.customer} writes about ${c.order}: "where is my order, and am I ` +
          `charged for the right plan?" Task: ${aspect}. Answer {"label", "plan", "orderStatus"}.`,
      },
    ],
    responseFormat: {
      name: "triage",
      schema: {
        type: "object",
        properties: {
          label: { type: "string" },
          plan: { enum: [...PLANS] },
          orderStatus: { enum: [...STATUSES] },
        },
        required: ["label", "plan", "orderStatus"],
      },
    },
  };
}

export function parseClassified(value: unknown): Classified {
  const v = value as Partial<Classified> | null;
  if (
    typeof v?.label !== "string" ||
    !PLANS.includes(v.plan as (typeof PLANS)[number]) ||
    !STATUSES.includes(v.orderStatus as (typeof STATUSES)[number])
  )
    throw new Error(`not a triage answer: ${JSON.stringify(value)}`);
  return { label: v.label, plan: v.plan as string, orderStatus: v.orderStatus as string };
}

/**
 * The simulated models behind the sim provider: the classifier (deterministic
 * from the seed, the case, the aspect and the temperature: a retried or
 * replayed request gets the same answer) and the judge that `re-ask` calls.
 */
export function responder(seed: number, cases: readonly Case[]) {
  const truthOf = truthByFact(cases);
  return (req: SimChatRequest): SimReply | undefined => {
    const text = req.messages.at(-1)?.text ?? "";
    if (req.model === JUDGE) return judge(seed, req, text, truthOf);
    const m = /^Case (\d+)\. .* Task: ([\w-]+)\./.exec(text);
    const c = m ? cases[Number(m[1])] : undefined;
    if (!c || !m) return undefined;
    const temperature = Number(req.body.temperature ?? 1);
    const rng = rngFor(seed, "classify", c.i, m[2] as string, temperature);
    const p = temperature * (c.hard ? MISREAD.hard : MISREAD.easy);
    const read = <T extends string>(truth: T, all: readonly T[]) =>
      rng.next() < p ? rng.pick(all.filter((v) => v !== truth)) : truth;
    const answer: Classified = {
      label: rng.pick(["yes", "no", "later"]),
      plan: read(c.truth.plan, PLANS),
      orderStatus: read(c.truth.status, STATUSES),
    };
    return { text: JSON.stringify(answer) };
  };
}

function judge(seed: number, req: SimChatRequest, text: string, truthOf: Map<string, string>) {
  const entity = /^Entity: (.*)$/m.exec(text)?.[1] ?? "";
  const key = /^Fact: (.*)$/m.exec(text)?.[1] ?? "";
  const schema = req.responseSchema as { properties?: { value?: { enum?: Json[] } } } | undefined;
  const candidates = schema?.properties?.value?.enum ?? [];
  const truth = truthOf.get(JSON.stringify([entity, key]));
  const rng = rngFor(seed, "judge", entity, key);
  const others = candidates.filter((v) => v !== truth);
  const right = candidates.includes(truth ?? null) && rng.next() < JUDGE_ACCURACY;
  const value = right || others.length === 0 ? truth : rng.pick(others);
  return { text: JSON.stringify({ value }) };
}

/** The facts a branch output asserts, as `ctx.reconcile` reads them. */
export function factsOf(c: Case, o: { plan: string; orderStatus: string }) {
  return [
    { entity: c.customer, key: "plan", value: o.plan },
    { entity: c.order, key: "status", value: o.orderStatus },
  ];
}
