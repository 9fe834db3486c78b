import { isIP } from "node:net";

/** Whether an address or host name (as given to --host) is on this machine's loopback interface. */
export function isLoopbackAddress(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^::ffff:127\./.test(h);
  return false;
}

/** Whether a request's Host header names a loopback address (its port aside). */
export function isLoopbackHost(header: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(header);
  if (bracketed) return isLoopbackAddress(bracketed[1] ?? "");
  return isLoopbackAddress(header.replace(/:\d+$/, ""));
}
