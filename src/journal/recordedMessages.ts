import type { Json } from "../core/json.js";
import type { Store } from "../store/types.js";
import type { StepRecord } from "./JournalIndex.js";
import { readBlobs } from "./payloads.js";

/** Messages read per round trip on replay; also what one replay holds in memory at most. */
const WINDOW = 256;

/**
 * Reads back the answers of a run's recorded LLM steps on replay, a window
 * at a time in journal order, so replaying a long conversation takes one
 * round trip per `WINDOW` steps instead of one per step. Replay visits steps
 * in the order they were recorded (concurrent branches aside: a message
 * outside the window is read on its own).
 */
export class RecordedMessages {
  private order: Buffer[] | undefined;
  /** Where each hash sits in `order` (a repeated answer sits in several places). */
  private readonly positions = new Map<string, number[]>();
  private next = 0;
  /** Raw blobs: each read parses its own copy, so no two steps share a message object. */
  private window = new Map<string, Buffer>();

  constructor(
    private readonly store: Pick<Store, "getBlobs">,
    /** The message hashes of the recorded steps, in journal order; asked once, on the first read. */
    private readonly recorded: () => Buffer[],
  ) {}

  async read(hash: Buffer): Promise<Json> {
    const hex = hash.toString("hex");
    let data = this.window.get(hex);
    if (data === undefined) {
      const at = this.positionOf(hex);
      if (at !== undefined) {
        const window = (this.order as Buffer[]).slice(at, at + WINDOW);
        this.window = await readBlobs(this.store, window);
        this.next = at + window.length;
        data = this.window.get(hex);
      } else {
        // Out of journal order (a branch): read alone, the window stays.
        data = (await readBlobs(this.store, [hash])).get(hex);
      }
    }
    return JSON.parse((data as Buffer).toString("utf8")) as Json;
  }

  /** The first place of `hex` in journal order not yet passed, if any. */
  private positionOf(hex: string): number | undefined {
    if (!this.order) {
      this.order = this.recorded();
      for (const [i, h] of this.order.entries()) {
        const key = h.toString("hex");
        const at = this.positions.get(key);
        if (at) at.push(i);
        else this.positions.set(key, [i]);
      }
    }
    return this.positions.get(hex)?.find((i) => i >= this.next);
  }
}

const owners = new WeakMap<object, RecordedMessages>();

/** The reader of one owner (an execution): collected with it. */
export function recordedMessagesOf(
  owner: object,
  store: Pick<Store, "getBlobs">,
  recorded: () => Buffer[],
): RecordedMessages {
  let reader = owners.get(owner);
  if (!reader) owners.set(owner, (reader = new RecordedMessages(store, recorded)));
  return reader;
}

/** The answer hashes of the recorded LLM steps among `steps`, in journal order. */
export function recordedAnswers(steps: Iterable<StepRecord>): Buffer[] {
  const out: Buffer[] = [];
  for (const rec of steps) {
    if (rec.kind !== "llm" || !rec.outcome?.ok) continue;
    const ref = (rec.meta.response as { messageRef?: unknown } | null | undefined)?.messageRef;
    if (typeof ref === "string") out.push(Buffer.from(ref, "base64url"));
  }
  return out;
}
