import pg from "pg";
import { CHANNEL } from "./notify.js";

export interface ListenerEvents {
  runnable(): void;
  /** Back after a drop: whatever was announced meanwhile was lost and must be looked up. */
  reconnected(): void;
  cancel(runId: string): void;
  settled(runId: string): void;
}

const RECONNECT_MS = { first: 250, max: 10_000 };

/**
 * The LISTEN connection that wakes idle workers. It lives outside the pool
 * and is re-established when the server drops it (restart, failover,
 * pg_terminate_backend); notifications sent meanwhile are lost, so a
 * reconnect makes the store look for what they would have said. TCP
 * keep-alive lets a silently dead peer be noticed too.
 */
export class NotificationListener {
  private client: pg.Client | undefined;
  private closed = false;
  private retryMs = RECONNECT_MS.first;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly url: string,
    private readonly events: ListenerEvents,
  ) {}

  /** Connects and listens; the first connection's failure is thrown. */
  static async start(url: string, events: ListenerEvents): Promise<NotificationListener> {
    const listener = new NotificationListener(url, events);
    await listener.connect();
    return listener;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, keepAlive: true });
    // Until LISTEN succeeds, a failure is reported by the rejection alone.
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    client.on("notification", (msg) => {
      const payload = msg.payload ?? "";
      if (payload === "runnable") this.events.runnable();
      else if (payload.startsWith("cancel:")) this.events.cancel(payload.slice(7));
      else if (payload.startsWith("settled:")) this.events.settled(payload.slice(8));
    });
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      this.client = undefined;
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on("error", onLost);
    client.on("end", onLost);
    this.client = client;
    this.retryMs = RECONNECT_MS.first;
  }

  /** One pending attempt at a time; each failure doubles the wait, up to a ceiling. */
  private scheduleReconnect(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect().then(
        () => {
          if (!this.closed) this.events.reconnected();
        },
        () => {
          this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MS.max);
          this.scheduleReconnect();
        },
      );
    }, this.retryMs);
    this.timer.unref();
  }
}
