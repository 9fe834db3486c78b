import type { Json } from "../core/json.js";
import { runBudgetOf, type BudgetLimits, type RunBudget } from "../deadletter/budgets.js";
import type { JournalIndex } from "../journal/JournalIndex.js";
import type { RunRecord } from "../store/types.js";

/**
 * What a run's journal fixed at its creation (its root, deadline, budget and
 * the chain of agents above it), with the patch of the last redrive that
 * changed its input or budget applied.
 */
export class RunFacts {
  /** The run's budget limits: those it was created with, as patched. */
  readonly limits: BudgetLimits;

  constructor(
    private readonly run: RunRecord,
    private readonly created: Record<string, Json>,
    private readonly patch: JournalIndex["patch"],
  ) {
    const own = runBudgetOf(created);
    this.limits = { ...own?.limits, ...(patch.budget as BudgetLimits | undefined) };
  }

  /** The facts in a journal: its `run.created` event's data. */
  static of(run: RunRecord, journal: JournalIndex): RunFacts {
    const created = journal.events.find((e) => e.type === "run.created")?.data;
    const facts = created && typeof created === "object" && !Array.isArray(created) ? created : {};
    return new RunFacts(run, facts, journal.patch);
  }

  /** The run's absolute deadline, fixed when it was created (children inherit their parent's). */
  get deadline(): number | undefined {
    return typeof this.created.deadline === "number" ? this.created.deadline : undefined;
  }

  /** The run's input, as patched by the last redrive that changed it. */
  get input(): unknown {
    return "input" in this.patch ? this.patch.input : this.run.input;
  }

  /** The root of this run's tree: children draw from its budget. */
  get root(): string {
    return typeof this.created.root === "string" ? this.created.root : this.run.id;
  }

  /** The budget journaled with this run's creation, with any redrive patch applied. */
  get budget(): RunBudget | undefined {
    const own = runBudgetOf(this.created);
    if (!own && !this.patch.budget) return undefined;
    return {
      root: own?.root ?? this.root,
      startedAt: own?.startedAt ?? this.run.createdAt,
      limits: this.limits,
    };
  }

  /** Agent names from the root run to this run's parent, journaled at creation. */
  get lineage(): string[] {
    const l = this.created.lineage;
    return Array.isArray(l) ? l.filter((a): a is string => typeof a === "string") : [];
  }

  /** What a child run journals at creation: its root, its budget and the chain of agents above it. */
  childFacts(): Record<string, Json> {
    const budget = this.budget;
    return {
      root: this.root,
      // Kept even when this agent opted out of the detectors, so a cycle through it is still seen.
      lineage: [...this.lineage, this.run.agent],
      ...(budget ? { budget: budget as unknown as Json } : {}),
    };
  }
}
