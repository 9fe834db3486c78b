import { createHash, timingSafeEqual } from "node:crypto";
import { InvalidArgumentError } from "../core/errors.js";
import { ForbiddenError, UnauthenticatedError } from "./errors.js";

/** Who is asking: the token's name (journaled with every action) and the tenant it sees. */
export interface Principal {
  name: string;
  /** `*` sees every run; any other value only runs started with that tenant. */
  tenant: string;
}

export interface TokenEntry extends Principal {
  token: string;
}

/** The principal of every request when no token is configured (loopback only). */
export const LOCAL_PRINCIPAL: Principal = { name: "local", tenant: "*" };

const NAME = /^[A-Za-z0-9._@+-]{1,64}$/;
const TOKEN = /^[\x21-\x7e]{8,512}$/;

/**
 * Parses `name:token:tenant` entries, separated by commas or new lines
 * (`FLOTILLA_TOKENS`, or the lines of a tokens file; `#` starts a comment
 * line). A malformed entry is refused with where it was, never its token.
 */
export function parseTokens(text: string, source: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line.trim().startsWith("#")) continue;
    for (const raw of line.split(",")) {
      const entry = raw.trim();
      if (entry === "") continue;
      const where = lines.length > 1 ? `${source} line ${i + 1}` : source;
      const parts = entry.split(":");
      const [name = "", token = "", tenant = ""] = parts;
      if (parts.length !== 3)
        throw new InvalidArgumentError(
          `${where}: an entry must be name:token:tenant, received ${parts.length} field(s) for '${name}'`,
          { field: source },
        );
      if (!NAME.test(name))
        throw new InvalidArgumentError(
          `${where}: a token name must be 1-64 of A-Z a-z 0-9 . _ @ + -, received '${name.slice(0, 64)}'`,
          { field: source },
        );
      if (!TOKEN.test(token))
        throw new InvalidArgumentError(
          `${where}: the token of '${name}' must be 8-512 printable characters without spaces, colons or commas`,
          { field: source },
        );
      if (tenant === "" || /\s/.test(tenant))
        throw new InvalidArgumentError(
          `${where}: the tenant of '${name}' must be a tenant name or *, received '${tenant}'`,
          { field: source },
        );
      entries.push({ name, token, tenant });
    }
  }
  return entries;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Checks bearer tokens in constant time per configured token. */
export class TokenAuth {
  private readonly entries: { digest: Buffer; principal: Principal }[];

  constructor(entries: readonly TokenEntry[]) {
    const seen = new Set<string>();
    const names = new Map<string, string>();
    for (const e of entries) {
      if (seen.has(e.token))
        throw new InvalidArgumentError(`the token of '${e.name}' is given twice`, {
          field: "tokens",
        });
      seen.add(e.token);
      const tenant = names.get(e.name);
      if (tenant !== undefined && tenant !== e.tenant)
        throw new InvalidArgumentError(
          `token name '${e.name}' is given for two tenants; actions are journaled by name, so names must say who`,
          { field: "tokens" },
        );
      names.set(e.name, e.tenant);
    }
    this.entries = entries.map((e) => ({
      digest: digest(e.token),
      principal: { name: e.name, tenant: e.tenant },
    }));
  }

  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** The principal of an `Authorization` header, or 401. */
  authenticate(header: string | undefined): Principal {
    if (!this.enabled) return LOCAL_PRINCIPAL;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
    if (!match) throw new UnauthenticatedError("send a token: Authorization: Bearer <token>");
    const given = digest(match[1] ?? "");
    let found: Principal | undefined;
    for (const e of this.entries) if (timingSafeEqual(e.digest, given)) found = e.principal;
    if (!found) throw new UnauthenticatedError("the token is not one of the configured tokens");
    return found;
  }
}

/** Whether the principal may see a run or dead letter of this tenant. */
export function sees(principal: Principal, tenant: string | null): boolean {
  return principal.tenant === "*" || tenant === principal.tenant;
}

/** Refuses what only a token for every tenant may see (store-wide figures). */
export function requireAllTenants(principal: Principal, what: string): void {
  if (principal.tenant !== "*")
    throw new ForbiddenError(`${what} covers every tenant; it needs a token for tenant *`, {
      tenant: principal.tenant,
    });
}
