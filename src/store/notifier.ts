import type { StoreEvents } from "./types.js";

/** In-process fan-out of store wake-ups; adapters add cross-process sources. */
export class StoreNotifier implements StoreEvents {
  private readonly runnable = new Set<() => void>();
  private readonly cancel = new Set<(runId: string) => void>();
  private readonly settled = new Set<(runId: string | undefined) => void>();

  onRunnable(listener: () => void): () => void {
    this.runnable.add(listener);
    return () => this.runnable.delete(listener);
  }

  onCancel(listener: (runId: string) => void): () => void {
    this.cancel.add(listener);
    return () => this.cancel.delete(listener);
  }

  onSettled(listener: (runId: string | undefined) => void): () => void {
    this.settled.add(listener);
    return () => this.settled.delete(listener);
  }

  emitRunnable(): void {
    for (const l of this.runnable) l();
  }

  emitCancel(runId: string): void {
    for (const l of this.cancel) l(runId);
  }

  /** `runId` settled; undefined: runs may have settled, the store cannot say which. */
  emitSettled(runId: string | undefined): void {
    for (const l of this.settled) l(runId);
  }
}
