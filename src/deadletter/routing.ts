import type { Clock } from "../core/clock.js";
import type { Store } from "../store/types.js";
import { redriveDeadLetter } from "./redrive.js";
import { escalate, HOLD, type Route, type Routes } from "./routes.js";
import type { NewDeadLetter } from "./types.js";

/**
 * Applies the configured route (hold, redrive, escalate) to each new dead
 * letter, in the background: a failing webhook or redrive is reported, never
 * thrown into the worker that captured the entry.
 */
export class DeadLetterRouting {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly routes: Routes,
    private readonly clock: Clock,
    private readonly warn: (message: string, err: unknown) => void,
  ) {}

  route(entry: NewDeadLetter): void {
    const route = this.routes[entry.class] ?? HOLD;
    if (route.action === "hold") return;
    const work = this.apply(route, entry).catch((err: unknown) =>
      this.warn(`routing dead letter ${entry.id} (${entry.class}) failed`, err),
    );
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** Waits for routing already under way. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private async apply(route: Exclude<Route, { action: "hold" }>, entry: NewDeadLetter) {
    if (route.action === "escalate") return escalate(route, entry, this.clock.now());
    const journal = await this.store.readJournal(entry.runId);
    const automatic = journal.filter(
      (e) => e.type === "run.redriven" && (e.data as { by?: unknown }).by === "route",
    ).length;
    // A route redrives a run a bounded number of times; after that it stays held.
    if (automatic >= (route.maxRedrives ?? 1)) return;
    await redriveDeadLetter(
      this.store,
      entry.id,
      {
        by: "route",
        reason: `automatic redrive of ${entry.class}`,
        ...(route.patch ? { patch: route.patch } : {}),
      },
      () => this.clock.now(),
    );
  }
}
