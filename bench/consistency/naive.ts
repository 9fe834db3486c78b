import type { LlmProvider } from "../../src/providers/types.js";
import {
  ASPECTS,
  classifierRequest,
  parseClassified,
  type Case,
  type Classified,
} from "./scenario.js";
import { pool } from "./pool.js";
import { tally, type Tally } from "./tally.js";

/**
 * The naive fan-out: the same five classifier calls per ticket, on the same
 * provider, with no runtime; the composer takes the branches' answers as they
 * come and merges them (a later branch's fact silently replaces an earlier
 * one). Contradictions reaching it are counted from what the branches said.
 */
export async function naiveColumn(
  provider: LlmProvider,
  cases: readonly Case[],
  concurrency: number,
  tick: () => void,
): Promise<Tally & { contradictionsReachingComposer: number }> {
  const said: Classified[][] = [];
  const composed: { plan: string; status: string }[] = [];
  await pool(cases, concurrency, async (c) => {
    const signal = AbortSignal.timeout(60_000);
    const branches = await Promise.all(
      ASPECTS.map(async (aspect) => {
        const r = await provider.complete(classifierRequest(c, aspect), { signal });
        return parseClassified(JSON.parse(r.message.content ?? "null"));
      }),
    );
    said[c.i] = branches;
    const merged = Object.assign({}, ...branches) as Classified;
    composed[c.i] = { plan: merged.plan, status: merged.orderStatus };
    tick();
  });
  const t = tally(cases, said, composed);
  return { contradictionsReachingComposer: t.contradictions, ...t };
}
