import { z } from "zod";

/** Options of `flotilla.sqlTool(name, options)`. */
export interface SqlToolOptions {
  /** The guarded database: `postgres://…`, or a SQLite file path (`sqlite:path`). */
  store: string;
  /**
   * What happens to a destructive statement (DROP, TRUNCATE, ALTER, CREATE,
   * UPDATE/DELETE of every row or of more than `rowLimit` rows):
   * `"approve"` waits for an `approve-sql` signal; `"refuse"` throws
   * `SqlRefusedError`. Default `"approve"`.
   */
  destructive?: "approve" | "refuse";
  /**
   * An UPDATE or DELETE that changes more rows than this is destructive:
   * it runs, is counted in its transaction, and is rolled back. Default 100.
   */
  rowLimit?: number;
  /** Allow scripts of several statements (classified by their worst one). Default false. */
  multiStatement?: boolean;
  /**
   * What the data written through this tool feeds outside the database
   * (events published, caches, embeddings…): a rollback cannot reverse
   * them, and its report lists them. Default none.
   */
  sideChannels?: string[];
  /** Give up waiting for an approval after this long (`FLOTILLA_TIMEOUT`). Default: wait. */
  approvalTimeoutMs?: number;
  /** One statement's time limit (the server's statement timeout too). Default 30 s. */
  timeoutMs?: number;
  /** PostgreSQL connections per pool (reads and writes have one each). Default 4. */
  poolSize?: number;
  description?: string;
}

export const DEFAULT_ROW_LIMIT = 100;
export const DEFAULT_SQL_TIMEOUT_MS = 30_000;

export const sqlToolOptionsSchema = z.strictObject({
  store: z.string().min(1),
  destructive: z.enum(["approve", "refuse"]).optional(),
  rowLimit: z.number().int().min(0).optional(),
  multiStatement: z.boolean().optional(),
  sideChannels: z.array(z.string().min(1).max(200)).max(50).optional(),
  approvalTimeoutMs: z
    .number()
    .int()
    .min(1)
    .max(2 ** 31 - 1)
    .optional(),
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .max(2 ** 31 - 1)
    .optional(),
  poolSize: z.number().int().min(1).max(100).optional(),
  description: z.string().max(2000).optional(),
});

/** A statement's parameters: what both drivers bind and the journal stores. */
export const sqlParamsSchema = z.array(z.union([z.null(), z.boolean(), z.number(), z.string()]));
