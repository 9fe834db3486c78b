/** `flotilla bench state` without --json: the figures side by side. */
interface Variant {
  updates: number;
  lostUpdates: number;
  appliedTwice: number;
  updatesPerSec: number;
}

interface Crash {
  kills: number;
  updates: number;
  lostUpdates: number;
  appliedTwice: number;
  runsCompleted: number;
  runs: number;
  writesRecoveredFromStore: number;
}

export function stateReport(result: Record<string, unknown>): string {
  const r = result as {
    agents: number;
    updatesPerAgent: number;
    sqlite: { naive: Variant; flotilla: Variant };
    postgres?: { naive: Variant; flotilla: Variant } | { skipped: string };
    claim: {
      items: number;
      takenTwice: number;
      neverTaken: number;
      naive: { takenTwice: number; neverTaken: number };
    };
    crash: { sqlite: Crash; postgres?: Crash };
    wallMs: number;
  };
  const lines = [
    `${r.agents} agents × ${r.updatesPerAgent} updates on one key, for a counter, a set union and an append list`,
    "",
    "store     variant                 lost updates   applied twice   updates/s",
  ];
  const row = (store: string, name: string, v: Variant) =>
    `${store.padEnd(10)}${name.padEnd(24)}${`${v.lostUpdates} / ${v.updates}`.padEnd(15)}${String(v.appliedTwice).padEnd(16)}${v.updatesPerSec}`;
  lines.push(
    row("sqlite", "naive read-modify-write", r.sqlite.naive),
    row("", "ctx.state", r.sqlite.flotilla),
  );
  if (r.postgres && "naive" in r.postgres)
    lines.push(
      row("postgres", "naive read-modify-write", r.postgres.naive),
      row("", "ctx.state", r.postgres.flotilla),
    );
  else if (r.postgres) lines.push(`postgres  skipped: ${r.postgres.skipped}`);
  lines.push(
    "",
    `claim: ${r.claim.items} items per store, 20 agents, all stores: ctx.state took ${r.claim.takenTwice} ` +
      `twice and left ${r.claim.neverTaken}; naive select-then-update took ${r.claim.naive.takenTwice} twice`,
    "",
    "worker processes SIGKILLed mid-way (ctx.state):",
  );
  for (const [store, c] of Object.entries(r.crash).filter(
    (e): e is [string, Crash] => typeof e[1] === "object",
  ))
    lines.push(
      `  ${store}: ${c.kills} kills, ${c.runsCompleted}/${c.runs} runs completed, ` +
        `${c.lostUpdates} of ${c.updates} updates lost, ${c.appliedTwice} applied twice ` +
        `(${c.writesRecoveredFromStore} writes cut off from their journal event found in the store on replay)`,
    );
  lines.push("", `wall time ${(r.wallMs / 1000).toFixed(1)} s`);
  return lines.join("\n");
}
