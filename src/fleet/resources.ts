import { z } from "zod";
import { systemClock, type Clock } from "../core/clock.js";
import { InvalidArgumentError } from "../core/errors.js";
import { parseOptions } from "../core/validate.js";
import { LockOrderError, ResourceTimeoutError, type ResourceHolder } from "./errors.js";

const timeout = z.custom<number>((v) => typeof v === "number" && v > 0, {
  message: "must be a positive number of ms (Infinity: no timeout)",
});

const optionsSchema = z.object({
  /** Units of each resource (a pool of 10 connections: 10). Unlisted resources have `defaultCapacity`. */
  capacities: z.record(z.string().min(1), z.number().int().positive()).default({}),
  defaultCapacity: z.number().int().positive().default(1),
  /** How long an acquisition may wait. Default 30 000 ms; Infinity waits until cancelled. */
  timeoutMs: timeout.default(30_000),
});
export type SharedResourcesOptions = z.input<typeof optionsSchema>;

const wantSchema = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1), units: z.number().int().positive().default(1) }),
]);
export type ResourceWant = z.input<typeof wantSchema>;

export interface AcquireResourcesOptions {
  /** Who holds the resources (a run, a step): named in timeouts, and checked for lock order. */
  owner: string;
  /** Overrides the default timeout for this acquisition. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Resources held together; release them together. */
export interface ResourceHold {
  readonly resources: readonly { name: string; units: number }[];
  release(): void;
}

interface Waiter {
  owner: string;
  wants: { name: string; units: number }[];
  /** Holds something already: served as soon as its resources are free, never queued behind others. */
  nested: boolean;
  grant(): void;
}

/**
 * Resources agents contend for (a connection pool, a file, a downstream
 * service with its own concurrency), acquired so that no set of owners can
 * deadlock:
 *
 * - Everything asked for in one call is taken at once or not at all, so no
 *   owner holds one resource while it waits for another of the same call.
 * - An owner that already holds resources may only ask for resources that
 *   sort after all of them (a `LockOrderError` at once otherwise): waits
 *   between holders then always go up the order, and cannot form a cycle.
 * - Waiting is first come, first served per resource, so a call wanting many
 *   units or many resources is not starved by a stream of small ones — except
 *   that a holder is never queued behind an owner that holds nothing, since
 *   that owner could be waiting on it.
 *
 * Waits time out with a `ResourceTimeoutError` naming the holders, and are
 * cancelled by their AbortSignal. State is per process.
 */
export class SharedResources {
  private readonly o: z.output<typeof optionsSchema>;
  private readonly held = new Map<string, ResourceHolder[]>();
  private readonly waiters: Waiter[] = [];

  constructor(
    options: SharedResourcesOptions = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.o = parseOptions(optionsSchema, options, "shared resources options");
  }

  async acquire(
    wants: readonly ResourceWant[],
    options: AcquireResourcesOptions,
  ): Promise<ResourceHold> {
    const list = this.normalise(wants, options.owner);
    const timeoutMs = options.timeoutMs ?? this.o.timeoutMs;
    if (!(timeoutMs > 0))
      throw new InvalidArgumentError(`timeoutMs must be positive, received ${timeoutMs}`);
    return this.enqueue(list, options.owner, timeoutMs, options.signal);
  }

  /** Who holds what now, for operators and error messages. */
  holders(resource?: string): ResourceHolder[] {
    const names = resource === undefined ? [...this.held.keys()] : [resource];
    return names.flatMap((n) => this.held.get(n) ?? []);
  }

  /** Calls waiting now. */
  get waiting(): number {
    return this.waiters.length;
  }

  private normalise(wants: readonly ResourceWant[], owner: string): Waiter["wants"] {
    if (typeof owner !== "string" || owner === "")
      throw new InvalidArgumentError(`owner must be a non-empty string, received ${String(owner)}`);
    if (!Array.isArray(wants) || wants.length === 0)
      throw new InvalidArgumentError("acquire needs a non-empty list of resources");
    const merged = new Map<string, number>();
    wants.forEach((w, i) => {
      const p = parseOptions(wantSchema, w, `resources[${i}]`);
      const [name, units] = typeof p === "string" ? [p, 1] : [p.name, p.units];
      merged.set(name, (merged.get(name) ?? 0) + units);
    });
    const list = [...merged].map(([name, units]) => ({ name, units })).sort(byName);
    for (const w of list) {
      const capacity = this.capacity(w.name);
      if (w.units > capacity)
        throw new InvalidArgumentError(
          `'${w.name}' has ${capacity} unit(s); ${owner} asked for ${w.units}`,
          { resource: w.name, capacity, units: w.units },
        );
    }
    const mine = this.holders().filter((h) => h.owner === owner);
    const highest = mine
      .map((h) => h.resource)
      .sort()
      .at(-1);
    const first = list[0]?.name;
    if (highest !== undefined && first !== undefined && first <= highest)
      throw new LockOrderError(owner, first, highest);
    return list;
  }

  private enqueue(
    wants: Waiter["wants"],
    owner: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<ResourceHold> {
    return new Promise<ResourceHold>((resolve, reject) => {
      signal?.throwIfAborted();
      const timer = new AbortController();
      const leave = (err: Error): void => {
        const i = this.waiters.indexOf(waiter);
        if (i < 0) return;
        this.waiters.splice(i, 1);
        timer.abort();
        signal?.removeEventListener("abort", onAbort);
        reject(err);
        // Whoever queued behind this waiter may go now.
        this.grant();
      };
      // Rejects with the caller's own reason, whatever it is.
      const onAbort = (): void => leave(signal?.reason as Error);
      const waiter: Waiter = {
        owner,
        wants,
        nested: this.holders().some((h) => h.owner === owner),
        grant: () => {
          timer.abort();
          signal?.removeEventListener("abort", onAbort);
          resolve(this.take(owner, wants));
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
      if (Number.isFinite(timeoutMs)) {
        this.clock.sleep(timeoutMs, timer.signal).then(
          () =>
            leave(
              new ResourceTimeoutError(
                owner,
                wants.map((w) => w.name),
                timeoutMs,
                wants.flatMap((w) => this.held.get(w.name) ?? []),
              ),
            ),
          () => undefined,
        );
      }
      this.grant();
    });
  }

  /** Serves every waiter that can go, in arrival order. */
  private grant(): void {
    const queuedFor = new Set<string>();
    for (const waiter of [...this.waiters]) {
      const free = waiter.wants.every((w) => this.free(w.name) >= w.units);
      const queued = !waiter.nested && waiter.wants.some((w) => queuedFor.has(w.name));
      if (free && !queued) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.grant();
      } else {
        for (const w of waiter.wants) queuedFor.add(w.name);
      }
    }
  }

  private take(owner: string, wants: Waiter["wants"]): ResourceHold {
    const since = this.clock.now();
    const mine: ResourceHolder[] = wants.map((w) => ({
      resource: w.name,
      owner,
      units: w.units,
      since,
    }));
    for (const h of mine) this.held.set(h.resource, [...(this.held.get(h.resource) ?? []), h]);
    let released = false;
    return {
      resources: wants.map((w) => ({ ...w })),
      release: () => {
        if (released) return;
        released = true;
        for (const h of mine) {
          const rest = (this.held.get(h.resource) ?? []).filter((x) => x !== h);
          if (rest.length > 0) this.held.set(h.resource, rest);
          else this.held.delete(h.resource);
        }
        this.grant();
      },
    };
  }

  private capacity(name: string): number {
    return this.o.capacities[name] ?? this.o.defaultCapacity;
  }

  private free(name: string): number {
    const used = (this.held.get(name) ?? []).reduce((n, h) => n + h.units, 0);
    return this.capacity(name) - used;
  }
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
