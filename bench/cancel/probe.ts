import type { ToolCallContext } from "../../src/effects/Tool.js";

/** One call of a tool's run function, as the tool itself saw it (wall-clock ms). */
export interface Invocation {
  tool: string;
  key: string;
  /** The run the call belongs to: the default key is `${runId}:${step}`. */
  runId: string;
  enteredAt: number;
  /** When the call's AbortSignal fired, if it did while the call ran. */
  abortedAt?: number;
  endedAt?: number;
}

/**
 * Watches tools from inside their run function: when each call was entered,
 * when its signal fired and when it returned. These times, not Flotilla's
 * journal, are what the benchmark judges a cancel by.
 */
export class ToolProbe {
  readonly invocations: Invocation[] = [];

  /** Wraps a tool's run function so every call is recorded. */
  wrap<A, R>(
    tool: string,
    run: (args: A, ctx: ToolCallContext) => Promise<R>,
  ): (args: A, ctx: ToolCallContext) => Promise<R> {
    return async (args, ctx) => {
      const call: Invocation = {
        tool,
        key: ctx.idempotencyKey,
        runId: ctx.idempotencyKey.split(":")[0] ?? "",
        enteredAt: Date.now(),
      };
      this.invocations.push(call);
      const onAbort = () => (call.abortedAt = Date.now());
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener("abort", onAbort, { once: true });
      try {
        return await run(args, ctx);
      } finally {
        call.endedAt = Date.now();
        ctx.signal.removeEventListener("abort", onAbort);
      }
    };
  }

  ofRuns(runIds: ReadonlySet<string>): Invocation[] {
    return this.invocations.filter((i) => runIds.has(i.runId));
  }

  running(): number {
    return this.invocations.filter((i) => i.endedAt === undefined).length;
  }
}
