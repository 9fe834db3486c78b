import { sha256 } from "../core/json.js";

/** What the echo detector reads of a message. */
export interface AskedMessage {
  role: string;
  content: string | null;
}

/** The echo detector's limits (see `LoopThresholdsSchema`). */
export interface EchoLimits {
  echoedAnswers: number;
  echoWindow: number;
  echoOverlap: number;
}

/**
 * Messages of a request read as its ask: a conversation resends its whole
 * history, so only what the agent added since the model last spoke is read
 * (a request without an assistant message is read from its end, this many
 * messages at most), and a long history costs nothing more per call.
 */
const ASK_MESSAGES = 4;
/** Stands for a quoted earlier answer; never produced by `words`, which keeps letters and digits only. */
const QUOTE = "\u00a4";

/** Lower-cased words without punctuation: what a reader would still call the same text. */
function words(text: string): string {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0)
    .join(" ");
}

/** The messages after the model's last answer (at most `ASK_MESSAGES`), as one text with their roles. */
function askOf(messages: readonly AskedMessage[]): string {
  const parts: string[] = [];
  for (let i = messages.length - 1; i >= 0 && parts.length < ASK_MESSAGES; i--) {
    const m = messages[i] as AskedMessage;
    if (m.role === "assistant") break;
    parts.push(`${m.role} ${words(m.content ?? "")}`);
  }
  return parts.reverse().join("\n");
}

interface Answer {
  /** Its words, for finding it quoted in a later ask. */
  text: string;
  /** Its words with numbers masked (a pass count or a date is no news), alone and in adjacent pairs. */
  words: Set<string>;
  pairs: Set<string>;
}

function answerOf(text: string): Answer {
  const list = text.replace(/\p{N}+/gu, "#").split(" ");
  const pairs = new Set<string>();
  if (list.length === 1) pairs.add(list[0] as string);
  for (let i = 0; i + 1 < list.length; i++) pairs.add(`${list[i]} ${list[i + 1]}`);
  return { text, words: new Set(list), pairs };
}

/**
 * Watches a run's LLM steps for a loop that feeds the model its own answers
 * and gets the same answer back: two roles re-checking each other inside
 * one agent, a "confirm" loop, a plan re-planned forever.
 *
 * A step *echoes* when both hold:
 * - its ask carries nothing new: the messages added since the model last
 *   spoke (case, spacing and punctuation aside, and with every recent answer
 *   they quote masked out) equal an ask among the last `echoWindow`;
 * - its answer says nothing new: it has no word that none of the last
 *   `echoWindow` answers had, and at least `echoOverlap` of its adjacent
 *   word pairs (numbers masked) are among theirs. A reworded answer that
 *   recombines what was said before is an echo; an answer from the same
 *   template with one new name in it is not.
 *
 * `echoedAnswers` echoes in a row are a runaway. Anything new ends the
 * streak: a new ask (a new user message, a tool result, another ticket to
 * classify), an answer that says something new (a conversation told
 * "Continue." that keeps writing, the same instruction answered
 * differently each time), or a new value or effect from a tool or child (a
 * poll whose result changes). Both halves are needed: repeated answers to
 * new asks are a classifier at work, new answers to a repeated ask are a
 * conversation.
 */
export class EchoWatch {
  /** Hashes of the recent asks, quotes masked, oldest first. */
  private readonly asks: string[] = [];
  private readonly answers: Answer[] = [];
  private streak = 0;

  constructor(private readonly limits: EchoLimits) {}

  /** Something new came into the run from outside the model: the streak ends. */
  reset(): void {
    this.streak = 0;
  }

  /** Judges one LLM step; returns the length of the streak of echoes it ends. */
  see(messages: readonly AskedMessage[], answer: string): number {
    const seen = answerOf(words(answer));
    const ask = sha256(this.masked(askOf(messages))).toString("hex");
    const echo = this.asks.includes(ask) && this.repeats(seen);
    this.streak = echo ? this.streak + 1 : 0;
    this.asks.push(ask);
    this.answers.push(seen);
    if (this.asks.length > this.limits.echoWindow) this.asks.shift();
    if (this.answers.length > this.limits.echoWindow) this.answers.shift();
    return this.streak;
  }

  /** Whether `answer` only says what the recent answers said. */
  private repeats(answer: Answer): boolean {
    for (const w of answer.words) if (!this.answers.some((a) => a.words.has(w))) return false;
    let said = 0;
    for (const p of answer.pairs) if (this.answers.some((a) => a.pairs.has(p))) said++;
    return said >= this.limits.echoOverlap * answer.pairs.size;
  }

  /** `ask` with the recent answers it quotes (whole words, longest first) replaced by one mark. */
  private masked(ask: string): string {
    let out = ` ${ask.replaceAll("\n", " \n ")} `;
    const quoted = this.answers
      .map((a) => a.text)
      .filter((t) => t.length > 0)
      .sort((a, b) => b.length - a.length);
    for (const t of quoted) out = out.replaceAll(` ${t} `, ` ${QUOTE} `);
    return out;
  }
}
