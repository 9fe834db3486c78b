import { canonicalJson, sha256, type Json } from "../core/json.js";
import type { Blob, Store } from "../store/types.js";

const ZERO = Buffer.alloc(32);

/** Blobs gathered for one commit, by hex hash (so one payload is written once). */
export type BlobBatch = Map<string, Blob>;
/** Bound on the per-process memory of hashes known to be stored already. */
const KNOWN_LIMIT = 200_000;

/**
 * Content-addressed payload storage. A message is stored once under the hash
 * of its canonical JSON; a message list is a hash chain of 64-byte nodes
 * (previous node, message), so a conversation that resends its whole history
 * every turn shares every prefix with the turn before: each turn stores only
 * what is new and the journal event holds one 32-byte head.
 */
export class PayloadWriter {
  private known = new Set<string>();

  /** Blobs that must be written for `value`, and its hash. */
  message(value: Json, out: BlobBatch): Buffer {
    const data = Buffer.from(canonicalJson(value));
    const hash = sha256(data);
    this.add(hash, data, out);
    return hash;
  }

  /** Blobs that must be written for a list of messages, and the head of its chain. */
  messageList(values: readonly Json[], out: BlobBatch): Buffer {
    let prev: Buffer = ZERO;
    for (const v of values) {
      const node = Buffer.concat([prev, this.message(v, out)]);
      prev = sha256(node);
      this.add(prev, node, out);
    }
    return prev;
  }

  /** Called once the blobs are durable, so later writes can skip them. */
  stored(blobs: readonly Blob[]): void {
    if (this.known.size + blobs.length > KNOWN_LIMIT) this.known = new Set();
    for (const b of blobs) this.known.add(b.hash.toString("hex"));
  }

  private add(hash: Buffer, data: Buffer, out: BlobBatch): void {
    const hex = hash.toString("hex");
    if (this.known.has(hex) || out.has(hex)) return;
    out.set(hex, { hash, data });
  }
}

export async function readMessage(store: Store, hash: Buffer): Promise<Json> {
  const data = (await store.getBlobs([hash])).get(hash.toString("hex"));
  if (!data) throw new Error(`payload ${hash.toString("hex")} is missing from the store`);
  return JSON.parse(data.toString("utf8")) as Json;
}

/** Rebuilds a message list from the head of its chain. */
export async function readMessageList(store: Store, head: Buffer): Promise<Json[]> {
  const hashes: Buffer[] = [];
  let node = head;
  while (!node.equals(ZERO)) {
    const data = (await store.getBlobs([node])).get(node.toString("hex"));
    if (!data) throw new Error(`payload node ${node.toString("hex")} is missing from the store`);
    hashes.push(data.subarray(32, 64));
    node = data.subarray(0, 32);
  }
  hashes.reverse();
  const blobs = await store.getBlobs(hashes);
  return hashes.map(
    (h) => JSON.parse(blobs.get(h.toString("hex"))?.toString("utf8") ?? "null") as Json,
  );
}
