import type { Tool } from "../effects/Tool.js";
import { Bulkhead } from "./Bulkhead.js";

/** Bulkheads made on first use: one per tool that declares one, one per tenant when configured. */
export class Bulkheads {
  private readonly byKey = new Map<string, Bulkhead>();

  constructor(private readonly tenantSpec?: { concurrency: number; queue?: number | undefined }) {}

  forTool(tool: Tool): Bulkhead | undefined {
    return tool.bulkhead ? this.get(`tool:${tool.name}`, tool.bulkhead) : undefined;
  }

  forTenant(tenant: string): Bulkhead | undefined {
    return this.tenantSpec ? this.get(`tenant:${tenant}`, this.tenantSpec) : undefined;
  }

  private get(key: string, spec: { concurrency: number; queue?: number | undefined }): Bulkhead {
    let b = this.byKey.get(key);
    if (!b) {
      b = new Bulkhead(key, spec.concurrency, spec.queue ?? 0);
      this.byKey.set(key, b);
    }
    return b;
  }
}
