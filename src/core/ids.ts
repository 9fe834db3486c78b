import { randomFillSync } from "node:crypto";
import { sha256 } from "./json.js";

/**
 * Random bytes drawn from a buffer refilled from the CSPRNG 4 KiB at a time,
 * as crypto.randomUUID does: one system call per couple of hundred ids
 * instead of one each (it was 6% of a run's CPU). Each byte is handed out
 * once, so ids and tokens are exactly as unpredictable as before.
 */
const entropy = Buffer.allocUnsafe(4096);
let drawn = entropy.length;

function randomBytes(size: number): Buffer {
  if (drawn + size > entropy.length) {
    randomFillSync(entropy);
    drawn = 0;
  }
  drawn += size;
  return entropy.subarray(drawn - size, drawn);
}

function formatUuid(bytes: Buffer): string {
  const h = bytes.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A UUIDv7: time-ordered, so runs list in start order and index well. */
export function newRunId(now = Date.now()): string {
  // The bytes are this id's alone (never drawn again): writing into the pool's slice is safe.
  const b = randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x70;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  return formatUuid(b);
}

/**
 * A UUIDv8 derived from its parts: a child run's id is a pure function of its
 * parent and step, so re-spawning after a crash finds the same child.
 */
export function deriveId(...parts: string[]): string {
  const b = Buffer.from(sha256(parts.join("\u0000")).subarray(0, 16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x80;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  return formatUuid(b);
}

export function newToken(): string {
  return randomBytes(12).toString("base64url");
}
