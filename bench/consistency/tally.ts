import type { Case, Classified } from "./scenario.js";

/** What the branches of each ticket said, and what its composer ended up using, against the truth. */
export interface Tally {
  /** (ticket, fact) pairs whose branches did not all say the same. */
  contradictions: number;
  byFact: { plan: number; status: number };
  /** Tickets with at least one such fact. */
  ticketsWithDisagreement: number;
  /** Facts the composer used that are not the truth (of 2 per ticket). */
  wrongFactsComposed: number;
}

export function tally(
  cases: readonly Case[],
  said: readonly (readonly Pick<Classified, "plan" | "orderStatus">[])[],
  composed: readonly { plan: string; status: string }[],
): Tally {
  const byFact = { plan: 0, status: 0 };
  let tickets = 0;
  let wrong = 0;
  for (const c of cases) {
    const branches = said[c.i] ?? [];
    const plan = new Set(branches.map((b) => b.plan)).size > 1;
    const status = new Set(branches.map((b) => b.orderStatus)).size > 1;
    byFact.plan += Number(plan);
    byFact.status += Number(status);
    tickets += Number(plan || status);
    const used = composed[c.i];
    wrong += Number(used?.plan !== c.truth.plan) + Number(used?.status !== c.truth.status);
  }
  return {
    contradictions: byFact.plan + byFact.status,
    byFact,
    ticketsWithDisagreement: tickets,
    wrongFactsComposed: wrong,
  };
}
