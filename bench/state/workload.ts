import type { Json } from "../../src/core/json.js";

/** The three shared values the issue measures, each written by every agent. */
export type Kind = "counter" | "union" | "append";
export const KINDS: readonly Kind[] = ["counter", "union", "append"];

/** What agent `agent`'s `i`-th update adds: a unique mark, so each update can be found in the result. */
export function mark(agent: number, i: number): string {
  return `a${agent}-u${i}`;
}

/** The update's input to a reducer of that kind. */
export function inputOf(kind: Kind, agent: number, i: number): Json {
  if (kind === "counter") return 1;
  return kind === "union" ? [mark(agent, i)] : mark(agent, i);
}

/** The naive read-modify-write: the value after one update, computed from the value read. */
export function applyNaive(kind: Kind, current: Json | undefined, agent: number, i: number): Json {
  if (kind === "counter") return ((current as number | undefined) ?? 0) + 1;
  const list = [...((current as string[] | undefined) ?? [])];
  const m = mark(agent, i);
  if (kind === "append" || !list.includes(m)) list.push(m);
  return list;
}

/** Ground truth: updates missing from the final value, and updates in it more than once. */
export interface Score {
  final: number;
  lostUpdates: number;
  appliedTwice: number;
}

/**
 * Scores a final value against `agents × updates` updates: a counter by its
 * value, a set or list by which marks it holds and how often.
 */
export function score(kind: Kind, value: Json | undefined, agents: number, updates: number): Score {
  const expected = agents * updates;
  if (kind === "counter") {
    const n = (value as number | undefined) ?? 0;
    return {
      final: n,
      lostUpdates: Math.max(0, expected - n),
      appliedTwice: Math.max(0, n - expected),
    };
  }
  const list = (value as string[] | undefined) ?? [];
  const present = new Set(list);
  let lost = 0;
  for (let a = 0; a < agents; a++)
    for (let i = 0; i < updates; i++) if (!present.has(mark(a, i))) lost++;
  return { final: list.length, lostUpdates: lost, appliedTwice: list.length - present.size };
}

/** An agent's pause between reading and writing (its LLM call, in real life), same for every variant. */
export function think(maxMs: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.random() * maxMs));
}
