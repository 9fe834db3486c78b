import { canonicalJson, type Json } from "../core/json.js";
import type { BranchAssertion } from "./assertions.js";

/** One value asserted about an entity's key, and the branches that asserted it. */
export interface Candidate {
  value: Json;
  /** Branch indexes, ascending, each once. */
  branches: number[];
}

/**
 * Everything the branches said about one (entity, key). Candidates come most
 * asserted first (by distinct branches), ties in the order first asserted.
 * More than one candidate is a conflict.
 */
export interface Subject {
  entity: string;
  key: string;
  candidates: Candidate[];
}

/** The (entity, key) pairs asserted, in the order first asserted, with their candidates. */
export function subjectsOf(assertions: readonly BranchAssertion[]): Subject[] {
  const subjects = new Map<string, { subject: Subject; byValue: Map<string, Candidate> }>();
  for (const a of assertions) {
    const id = JSON.stringify([a.entity, a.key]);
    let s = subjects.get(id);
    if (!s) {
      s = { subject: { entity: a.entity, key: a.key, candidates: [] }, byValue: new Map() };
      subjects.set(id, s);
    }
    const v = canonicalJson(a.value);
    let c = s.byValue.get(v);
    if (!c) {
      c = { value: a.value, branches: [] };
      s.byValue.set(v, c);
      s.subject.candidates.push(c);
    }
    if (!c.branches.includes(a.branch)) c.branches.push(a.branch);
  }
  return [...subjects.values()].map(({ subject }) => {
    // Stable sort: equal support keeps first-asserted order.
    subject.candidates.sort((x, y) => y.branches.length - x.branches.length);
    for (const c of subject.candidates) c.branches.sort((x, y) => x - y);
    return subject;
  });
}

/** The candidate more branches asserted than any other, or undefined on a tie for the most. */
export function plurality(s: Subject): Candidate | undefined {
  const [first, second] = s.candidates;
  if (!first) return undefined;
  return second && second.branches.length === first.branches.length ? undefined : first;
}

/** The candidates tied for the most support. */
export function leaders(s: Subject): Candidate[] {
  const most = s.candidates[0]?.branches.length ?? 0;
  return s.candidates.filter((c) => c.branches.length === most);
}
