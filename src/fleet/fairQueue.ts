/**
 * Weighted fair queuing between tenants (start-time fair queuing): each
 * tenant has a virtual clock advanced by cost / weight whenever one of its
 * items is served, and the tenant with the earliest clock goes next. A tenant
 * that was idle rejoins at the current virtual time, so it cannot bank credit
 * while away and then starve everyone else. Within a tenant, higher priority
 * first, then arrival order.
 */
export interface FairItem {
  readonly tenant: string;
  readonly priority: number;
  readonly cost: number;
}

interface Lane<T> {
  items: { item: T; seq: number }[];
  vtime: number;
}

export class FairQueue<T extends FairItem> {
  private readonly lanes = new Map<string, Lane<T>>();
  private vnow = 0;
  private seq = 0;
  private count = 0;

  constructor(private readonly weightOf: (tenant: string) => number) {}

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    let lane = this.lanes.get(item.tenant);
    if (!lane) {
      lane = { items: [], vtime: this.vnow };
      this.lanes.set(item.tenant, lane);
    }
    if (lane.items.length === 0) lane.vtime = Math.max(lane.vtime, this.vnow);
    const entry = { item, seq: this.seq++ };
    // Insertion keeps the lane sorted by (priority desc, seq asc); lanes are short.
    let i = lane.items.length;
    while (i > 0 && (lane.items[i - 1]?.item.priority ?? 0) < item.priority) i--;
    lane.items.splice(i, 0, entry);
    this.count++;
  }

  /** The item that should be served next, without removing it. */
  peek(): T | undefined {
    return this.nextLane()?.items[0]?.item;
  }

  /**
   * Serves `item` (normally the one `peek` returned; a newer arrival may have
   * overtaken it while its admission was being decided) and charges its tenant.
   */
  take(item: T): boolean {
    const lane = this.lanes.get(item.tenant);
    if (!lane || !this.remove(item)) return false;
    this.vnow = Math.max(this.vnow, lane.vtime);
    lane.vtime += item.cost / this.weightOf(item.tenant);
    return true;
  }

  /** Takes an item out unserved (its waiter was cancelled). */
  remove(item: T): boolean {
    const lane = this.lanes.get(item.tenant);
    const i = lane?.items.findIndex((e) => e.item === item) ?? -1;
    if (!lane || i < 0) return false;
    lane.items.splice(i, 1);
    this.count--;
    return true;
  }

  /** Queued items per tenant. */
  depths(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [tenant, lane] of this.lanes)
      if (lane.items.length > 0) out[tenant] = lane.items.length;
    return out;
  }

  private nextLane(): Lane<T> | undefined {
    let best: Lane<T> | undefined;
    for (const lane of this.lanes.values()) {
      const head = lane.items[0];
      if (!head) continue;
      const bestHead = best?.items[0];
      if (
        !best ||
        !bestHead ||
        lane.vtime < best.vtime ||
        (lane.vtime === best.vtime && head.seq < bestHead.seq)
      )
        best = lane;
    }
    return best;
  }
}
