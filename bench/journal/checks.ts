import type { ConversationFigures } from "./conversation.js";
import type { StoreKind } from "./places.js";
import type { ReplayFigures } from "./replay.js";
import type { StoreFigures } from "./storeFigures.js";
import { figure } from "./stats.js";

/** A figure against its target (issue 12); a miss is reported, never an exit code. */
export interface Check {
  name: string;
  value: number | null;
  target: string;
  ok: boolean;
}

function atMost(name: string, value: number | null, limit: number): Check {
  return { name, value, target: `≤ ${limit}`, ok: value !== null && value <= limit };
}

function atLeast(name: string, value: number | null, limit: number): Check {
  return { name, value, target: `≥ ${limit}`, ok: value !== null && value >= limit };
}

const over = (value: number | null, baseline: number) =>
  value === null ? null : figure(value / baseline);

function storeChecks(kind: StoreKind, s: StoreFigures): Check[] {
  const checks = [atMost(`${kind}.sequential.ratio`, s.sequential.ratio, 1.5)];
  if (kind === "postgres") {
    const zero = s.zeroStepRunMs;
    checks.push(
      atLeast("postgres.concurrent16.ratio", s.concurrent16.ratio, 0.5),
      atLeast("postgres.concurrent64.ratio", s.concurrent64.ratio, 0.7),
      atMost(
        "postgres.zeroStepRunMs.sameProcess / insertMs",
        over(zero.sameProcess, s.insertMs),
        6,
      ),
      atMost(
        "postgres.zeroStepRunMs.otherProcess / insertMs",
        over(zero.otherProcess, s.insertMs),
        25,
      ),
    );
  } else {
    checks.push(atLeast("sqlite.concurrent16.ratio", s.concurrent16.ratio, 2));
  }
  checks.push(
    atMost(`${kind}.sequential.effectMsPerStep / msPerStep`, s.sequential.effectRatio, 2),
  );
  return checks;
}

/** Every target of the journal bench, for the stores that ran. */
export function journalChecks(figures: {
  postgres?: StoreFigures;
  sqlite: StoreFigures;
  conversation: ConversationFigures;
  replay: ReplayFigures;
}): Check[] {
  const c = figures.conversation;
  return [
    ...(figures.postgres ? storeChecks("postgres", figures.postgres) : []),
    ...storeChecks("sqlite", figures.sqlite),
    atMost("conversation.ratio", c.ratio, 2),
    atMost(
      "conversation.msPerTurnLast100 / msPerTurnFirst100",
      figure(c.msPerTurnLast100 / c.msPerTurnFirst100),
      1.5,
    ),
    atMost("replay.parentExecutions", figures.replay.parentExecutions, 10),
    atMost("replay.stepsReplayed", figures.replay.stepsReplayed, 400),
  ];
}
