import { canonicalJson, sha256 } from "../../src/core/json.js";
import { rngFor } from "../../src/core/rng.js";
import type { SimChatRequest, SimReply } from "../../src/sim/index.js";

/** Priced like a large hosted model, so the runaway's bill reads like a real one. */
export const MODEL = "sim-large";
export const BUDGET_USD = 1;
export const MAX_TOKENS = 64;
export const SEED = 11;
export const FIRST_ANSWER = "I have not answered yet.";

export const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

const QUESTION = "What is the refund window for order 1182, and does the customer qualify?";
/** The shared context both reviewers resend every turn (policy text, the order, the thread). */
const CONTEXT = `You are one of two reviewers. ${"Policy: refunds within 30 days of delivery; items must be unused; shipping is not refunded. ".repeat(12)}`;
const SOLVER_ASK = "The checker replied:";
const CHECKER_ASK = "The solver answered:";

export type Role = "solver" | "checker";
export const other = (role: Role): Role => (role === "solver" ? "checker" : "solver");

/** One turn: a reviewer asks the model to re-check the other's answer, quoting it. */
export function turn(role: Role, answer: string) {
  const ask =
    role === "solver"
      ? `${SOLVER_ASK} "${answer}". Please re-check your answer to: ${QUESTION}`
      : `${CHECKER_ASK} "${answer}". Please re-check it and ask the solver to confirm.`;
  return [
    { role: "system" as const, content: CONTEXT },
    { role: "user" as const, content: ask },
  ];
}

/** Each reviewer's answer is an opening, a verdict and a closing, each said one of three ways. */
const PHRASES: Record<Role, string[][]> = {
  solver: [
    ["I re-checked my answer.", "I have gone over it again.", "Re-checked, as you asked."],
    [
      "The refund window is 30 days from delivery, and order 1182 qualifies.",
      "Refunds are accepted within 30 days of delivery, so order 1182 qualifies.",
      "Order 1182 was delivered within the 30-day window, so it qualifies for a refund.",
    ],
    ["Checker, please confirm.", "Please confirm.", "Can you confirm this?"],
  ],
  checker: [
    [
      "The solver's answer is correct.",
      "I checked the solver's answer and it holds.",
      "Correct, as far as I can tell.",
    ],
    [
      "Order 1182 qualifies: the window is 30 days from delivery.",
      "The 30-day window from delivery covers order 1182, so it qualifies.",
      "Order 1182 is inside the 30-day refund window.",
    ],
    [
      "Solver, please confirm once more.",
      "Please re-check and confirm.",
      "Confirm it and I will check it again.",
    ],
  ],
};

/**
 * The simulated model's answer to a reviewer's turn, as a model sampled at
 * a non-zero temperature gives it in this loop: the same verdict every
 * time, reworded (each sentence picked from three phrasings). Seeded by the
 * request and its arrival number, so a rerun of the bench is the same run.
 * Undefined for any other request.
 */
export function reviewerAnswer(req: SimChatRequest): SimReply | undefined {
  const ask = req.messages.at(-1)?.text ?? "";
  const role: Role | undefined = ask.startsWith(SOLVER_ASK)
    ? "solver"
    : ask.startsWith(CHECKER_ASK)
      ? "checker"
      : undefined;
  if (!role) return undefined;
  const digest = sha256(canonicalJson(req.messages.map((m) => m.text))).toString("hex");
  const rng = rngFor(SEED, "review", req.seq, digest);
  return { text: PHRASES[role].map((options) => rng.pick(options)).join(" ") };
}
