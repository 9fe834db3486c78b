/**
 * How a query module tells the store's listeners what it changed: the
 * in-process counterpart of PostgreSQL's NOTIFY.
 */
export interface Announce {
  /** Runs may have become claimable. Safe inside a transaction: listeners are deferred. */
  runnable(): void;
  /** Someone asked to cancel `runId`. Listeners run at once, so call it after the commit. */
  cancel(runId: string): void;
  /** `runId` settled (ended, or parked): whoever waits on its result may look. Call it after the commit. */
  settled(runId: string): void;
}
