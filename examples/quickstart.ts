/**
 * A durable support agent on the embedded SQLite store (./.flotilla/flotilla.db),
 * talking through the official OpenAI SDK to Flotilla's simulated provider.
 * Run it twice: the second run with the same ticket id returns the first result.
 */
import { Flotilla } from "../src/index.js";
import { createOpenAIProvider } from "../src/providers/openai.js";
import { startSimProvider } from "../src/sim/index.js";

const sim = await startSimProvider({ seed: 42 });
const flotilla = await Flotilla.open({
  providers: {
    default: createOpenAIProvider({
      baseURL: sim.openaiBaseURL,
      apiKey: "sim-key",
      model: "gpt-4o-mini",
    }),
  },
});

const notes: string[] = [];
const addNote = flotilla.tool("crm.addNote", {
  effect: "idempotent",
  run: async (args: { ticket: string; text: string }, { idempotencyKey }) => {
    notes.push(idempotencyKey);
    return { noteId: `note-${args.ticket}` };
  },
});

const triage = flotilla.agent("triage", async (ctx, ticket: { id: string; text: string }) => {
  const answer = await ctx.llm({
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: "You triage support tickets in one sentence." },
      { role: "user", content: ticket.text },
    ],
  });
  const note = await ctx.call(addNote, { ticket: ticket.id, text: answer.message.content ?? "" });
  return { triage: answer.message.content, note: note.noteId, costUsd: answer.costUsd ?? 0 };
});

const run = await flotilla.start(
  triage,
  { id: "T-1001", text: "My parcel never arrived." },
  { idempotencyKey: "ticket:T-1001" },
);
const result = await run.result({ timeoutMs: 30_000 });
console.log(`run ${run.id} completed:`, result);
console.log(`tool calls made by this process: ${notes.length} (0 when the run was already done)`);
console.log(`look deeper: npx flotilla runs   |   npx flotilla show ${run.id}`);
await flotilla.close();
await sim.close();
