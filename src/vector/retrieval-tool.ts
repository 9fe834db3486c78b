import { z } from "zod";
import type { SearchOptions } from "./sharded-index.js";
import type { SearchResult } from "./search-result.js";
import { parseOrThrow } from "./validate.js";

/** The part of an index the tool needs; a `ShardedIndex` fits. */
export interface SearchableIndex {
  readonly dimension: number;
  search(query: readonly number[], k: number, options?: SearchOptions): Promise<SearchResult>;
}

const ToolOptions = z.object({
  /** Shown to the model choosing tools. */
  description: z.string().min(1).default("Finds the stored vectors nearest to a query vector."),
  /** Results when the caller does not say; default 10. */
  defaultK: z.number().int().min(1).default(10),
  /** Largest k a caller may ask for; default 100. */
  maxK: z.number().int().min(1).default(100),
  ef: z.number().int().min(1).optional(),
  nprobe: z.number().int().min(1).optional(),
});

export type RetrievalToolOptions = z.input<typeof ToolOptions>;

export interface RetrievalArgs {
  vector: number[];
  k?: number;
}

export interface RetrievalHit {
  id: number;
  distance: number;
}

export interface RetrievalToolSpec {
  effect: "read";
  description: string;
  run: (
    args: RetrievalArgs,
    ctx: { idempotencyKey: string; signal: AbortSignal },
  ) => Promise<{ hits: RetrievalHit[] }>;
}

/**
 * A `read`-effect tool over a vector index, for `flotilla.tool(name, spec)`.
 * Searching changes nothing, so the runtime may repeat it freely; arguments
 * come from a model, so they are validated here rather than trusted.
 */
export function retrievalTool(
  index: SearchableIndex,
  options: RetrievalToolOptions = {},
): RetrievalToolSpec {
  const o = parseOrThrow(ToolOptions, options, "retrievalTool options");
  const Args = z.object({
    vector: z.array(z.number().finite()).length(index.dimension),
    k: z.number().int().min(1).max(o.maxK).default(Math.min(o.defaultK, o.maxK)),
  });
  return {
    effect: "read",
    description: o.description,
    run: async (args, { signal }) => {
      signal.throwIfAborted();
      const a = parseOrThrow(Args, args, "args");
      const search: SearchOptions = { signal };
      if (o.ef !== undefined) search.ef = o.ef;
      if (o.nprobe !== undefined) search.nprobe = o.nprobe;
      const result = await abortable(index.search(a.vector, a.k, search), signal);
      return { hits: result.ids.map((id, i) => ({ id, distance: result.distances[i]! })) };
    },
  };
}

/** Settles with `work`, or rejects with the signal's reason as soon as it aborts. */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    work.finally(() => signal.removeEventListener("abort", onAbort)).then(resolve, reject);
  });
}
