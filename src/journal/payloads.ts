import { canonicalJson, sha256, type Json } from "../core/json.js";
import type { Blob, Store } from "../store/types.js";
import type { Redactor } from "../telemetry/redaction/Redactor.js";
import { plainCopy, type ChainLink, type MessageChains } from "./messageHashes.js";

const ZERO = Buffer.alloc(32);

/** Blobs gathered for one commit, by hex hash (so one payload is written once). */
export type BlobBatch = Map<string, Blob>;
/** Bound on the per-process memory of hashes known to be stored already. */
const KNOWN_LIMIT = 200_000;
/** Hashes asked of the store in one call. */
const READ_CHUNK = 1_000;

/**
 * Content-addressed payload storage. A message is stored once under the hash
 * of its canonical JSON; a message list is a hash chain of 64-byte nodes
 * (previous node, message), so a conversation that resends its whole history
 * every turn shares every prefix with the turn before: each turn stores only
 * what is new and the journal event holds one 32-byte head.
 */
export class PayloadWriter {
  private known = new Set<string>();

  /** Secrets are redacted from each message before it is hashed: the store never sees them. */
  constructor(private readonly redactor?: Redactor) {}
  /** Messages canonicalised and hashed so far: the work payloads cost, for tests and benchmarks. */
  messagesHashed = 0;

  /** Blobs that must be written for `value`, and its hash. */
  message(value: Json, out: BlobBatch): Buffer {
    this.messagesHashed++;
    const data = Buffer.from(canonicalJson(this.redacted(value)));
    const hash = sha256(data);
    this.add(hash, data, out);
    return hash;
  }

  /**
   * Blobs that must be written for a list of messages, and the head of its
   * chain. With `chains` (the lists this execution hashed before), only the
   * messages after the longest prefix already hashed are canonicalised and
   * hashed, so a turn of a growing conversation costs what it adds.
   */
  messageList(values: readonly Json[], out: BlobBatch, chains?: MessageChains): Buffer {
    const { chain, length: reused } = chains?.longestPrefix(values) ?? {
      chain: undefined,
      length: 0,
    };
    const linkAt = (i: number): ChainLink =>
      (i < reused ? chain?.[i] : fresh[i - reused]) as ChainLink;
    const fresh: ChainLink[] = [];
    const data: Buffer[] = [];
    const nodes: Buffer[] = [];
    let prev = reused > 0 ? linkAt(reused - 1).head : ZERO;
    for (let i = reused; i < values.length; i++) {
      const value = values[i] as Json;
      this.messagesHashed++;
      const d = Buffer.from(canonicalJson(this.redacted(value)));
      const hash = sha256(d);
      const node = Buffer.concat([prev, hash]);
      prev = sha256(node);
      fresh.push({
        snapshot: chains ? plainCopy(value) : undefined,
        hash,
        head: prev,
        headHex: prev.toString("hex"),
      });
      data.push(d);
      nodes.push(node);
    }
    // A stored node's whole chain is stored: every commit holds a node's message and previous
    // node unless they were stored before. So blobs are due only after the last stored node.
    let from = values.length;
    while (from > 0 && !this.isStored(linkAt(from - 1).headHex, chains)) from--;
    for (let i = from; i < values.length; i++) {
      const link = linkAt(i);
      if (i >= reused) {
        this.add(link.hash, data[i - reused] as Buffer, out);
        this.add(link.head, nodes[i - reused] as Buffer, out);
      } else {
        // Hashed before but not stored yet (that step failed or is still committing): rare.
        this.messagesHashed++;
        this.add(link.hash, Buffer.from(canonicalJson(this.redacted(values[i] as Json))), out);
        const before = i > 0 ? linkAt(i - 1).head : ZERO;
        this.add(link.head, Buffer.concat([before, link.hash]), out);
      }
    }
    chains?.extend(chain, reused, fresh);
    return prev;
  }

  /** Called once the blobs are durable, so later writes can skip them. */
  stored(blobs: readonly Blob[]): void {
    if (this.known.size + blobs.length > KNOWN_LIMIT) this.known = new Set();
    for (const b of blobs) this.known.add(b.hash.toString("hex"));
  }

  private redacted(value: Json): Json {
    return this.redactor ? this.redactor.value(value) : value;
  }

  private isStored(hex: string, chains: MessageChains | undefined): boolean {
    return this.known.has(hex) || (chains?.isRecorded(hex) ?? false);
  }

  private add(hash: Buffer, data: Buffer, out: BlobBatch): void {
    const hex = hash.toString("hex");
    if (this.known.has(hex) || out.has(hex)) return;
    out.set(hex, { hash, data });
  }
}

/** Blobs by hex hash, asked in chunks; a missing one is an error naming it. */
export async function readBlobs(
  store: Pick<Store, "getBlobs">,
  hashes: readonly Buffer[],
  what = "payload",
): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  for (let i = 0; i < hashes.length; i += READ_CHUNK) {
    const chunk = hashes.slice(i, i + READ_CHUNK);
    for (const [hex, data] of await store.getBlobs(chunk)) found.set(hex, data);
  }
  for (const h of hashes) {
    const hex = h.toString("hex");
    if (!found.has(hex)) throw new Error(`${what} ${hex} is missing from the store`);
  }
  return found;
}

export async function readMessage(store: Pick<Store, "getBlobs">, hash: Buffer): Promise<Json> {
  const data = (await readBlobs(store, [hash])).get(hash.toString("hex")) as Buffer;
  return JSON.parse(data.toString("utf8")) as Json;
}

/** Chain nodes already read, by hex: the previous node and the message. Reuse it across reads. */
export type ChainNodes = Map<string, { prev: Buffer; message: Buffer }>;

/**
 * Rebuilds message lists from the heads of their chains. Every chain is
 * walked back one node per round, all of them in the same round, and nodes
 * in `nodes` are not read again: the heads of a run's LLM steps (each a
 * prefix of the next in a conversation) are read in a few rounds, not one
 * per message. The messages are then read in one more; equal messages
 * come back as one shared object.
 */
export async function readMessageLists(
  store: Pick<Store, "getBlobs">,
  heads: readonly Buffer[],
  nodes: ChainNodes = new Map(),
): Promise<Json[][]> {
  let frontier = new Map<string, Buffer>();
  const visit = (node: Buffer) => {
    const hex = node.toString("hex");
    if (!node.equals(ZERO) && !nodes.has(hex)) frontier.set(hex, node);
  };
  for (const h of heads) visit(h);
  while (frontier.size > 0) {
    const read = await readBlobs(store, [...frontier.values()], "payload node");
    const round = frontier;
    frontier = new Map();
    for (const hex of round.keys()) {
      const data = read.get(hex) as Buffer;
      nodes.set(hex, { prev: data.subarray(0, 32), message: data.subarray(32, 64) });
    }
    for (const hex of round.keys()) visit((nodes.get(hex) as { prev: Buffer }).prev);
  }
  const lists = heads.map((head) => {
    const hashes: Buffer[] = [];
    for (let n = nodes.get(head.toString("hex")); n; n = nodes.get(n.prev.toString("hex")))
      hashes.push(n.message);
    return hashes.reverse();
  });
  const unique = new Map<string, Buffer>();
  for (const list of lists) for (const h of list) unique.set(h.toString("hex"), h);
  const blobs = await readBlobs(store, [...unique.values()]);
  const decoded = new Map<string, Json>();
  return lists.map((list) =>
    list.map((h) => {
      const hex = h.toString("hex");
      let message = decoded.get(hex);
      if (message === undefined) {
        message = JSON.parse((blobs.get(hex) as Buffer).toString("utf8")) as Json;
        decoded.set(hex, message);
      }
      return message;
    }),
  );
}

/** Rebuilds one message list from the head of its chain (see `readMessageLists`). */
export async function readMessageList(
  store: Pick<Store, "getBlobs">,
  head: Buffer,
  nodes?: ChainNodes,
): Promise<Json[]> {
  return (await readMessageLists(store, [head], nodes))[0] as Json[];
}
