import { isFlotillaError } from "../core/errors.js";
import { canonicalJson, type Json } from "../core/json.js";
import type { StepRecord } from "../journal/JournalIndex.js";
import { messageChainsOf } from "../journal/messageHashes.js";
import type { BlobBatch } from "../journal/payloads.js";
import { recordedAnswers, recordedMessagesOf } from "../journal/recordedMessages.js";
import type { LlmRequest } from "../providers/types.js";
import { redactorOf } from "../telemetry/redaction/Redactor.js";
import type { Execution } from "./Execution.js";
import { callLlm, type LlmResult } from "./llmCall.js";
import { outageWait } from "./outageWait.js";
import { replayOutcome, type LlmOptions, type StepWork } from "./RunContext.js";

/** What most answers are: first attempt, first sample, from the primary. Left out of the journal. */
const PLAIN_ANSWER = {
  attempts: 1,
  samples: 1,
  provenance: { degraded: false, source: "primary" },
} as const;

/** A response's fields for the journal, without those that say what most answers say. */
function journaledResponse(r: Omit<LlmResult, "message">): Partial<Omit<LlmResult, "message">> {
  const { attempts, samples, provenance, ...rest } = r;
  return {
    ...rest,
    ...(attempts !== PLAIN_ANSWER.attempts ? { attempts } : {}),
    ...(samples !== PLAIN_ANSWER.samples ? { samples } : {}),
    ...(provenance.degraded ? { provenance } : {}),
  };
}

/** Where an LLM step runs: its id, its branch's signal and its deadline. */
export interface ModelCall {
  step: string;
  signal: AbortSignal;
  deadline: number | undefined;
}

/**
 * The work of a new `ctx.llm` step: the request's messages hashed into
 * payloads before the call (what is journaled is what was sent), the call
 * through the retry owner (outages waited out), and the answer with what of
 * it the journal keeps.
 */
export async function callModel(
  exec: Execution,
  call: ModelCall,
  request: LlmRequest,
  options: LlmOptions,
): Promise<StepWork<LlmResult>> {
  const host = exec.host;
  const provider = host.provider(options.provider);
  // A redrive may switch the model of new calls; the step keeps its name, so replay still matches.
  const model = exec.journal.patch.model ?? request.model;
  // Hashed before the call, so what is journaled is what was sent; only what this
  // execution has not hashed yet (a growing history's new tail) is hashed.
  const blobs: BlobBatch = new Map();
  const requestHead = host.payloads.messageList(
    request.messages as unknown as Json[],
    blobs,
    messageChainsOf(exec),
  );
  const { messages: _m, ...params } = request;
  const messagesRef = requestHead.toString("base64url");
  let response: LlmResult;
  try {
    const waiting = { step: call.step, kind: "llm", name: options.name ?? request.model } as const;
    const { maxTokens, temperature } = request;
    const chat = { provider: provider.name, model, step: call.step, maxTokens, temperature };
    response = await exec.trace.chat(chat, () =>
      callLlm(host, { ...request, model }, options, {
        signal: call.signal,
        deadline: call.deadline,
        outage: outageWait(exec, call.signal, waiting, call.deadline),
        tenant: exec.run.tenant ?? "default",
        ...(exec.reserver ? { budget: exec.reserver } : {}),
        requestDigest: () => canonicalJson({ ...params, model, messagesRef }),
      }),
    );
  } catch (err) {
    if (isFlotillaError(err, "FLOTILLA_ESCALATED")) exec.stop("park", err);
    if (isFlotillaError(err, "FLOTILLA_BUDGET_EXHAUSTED")) exec.stop("fail", err);
    throw err;
  }
  // The agent sees the answer as journaled (message in payloads, the rest in the event), on replay too.
  const redactor = redactorOf(host);
  const { message: said, ...answer } = response;
  const message = redactor.value(said);
  const rest = redactor.value(answer);
  const messageRef = host.payloads.message(message as unknown as Json, blobs);
  return {
    value: { ...rest, message },
    journal: null,
    blobs: [...blobs.values()],
    meta: {
      provider: provider.name,
      request: { ...params, messagesRef } as unknown as Json,
      response: {
        ...journaledResponse(rest),
        messageRef: messageRef.toString("base64url"),
      } as unknown as Json,
    },
  };
}

/** A recorded `ctx.llm` step's answer, its message read back from payloads. */
export async function replayModel(exec: Execution, rec: StepRecord): Promise<LlmResult> {
  const host = exec.host;
  if (!rec.outcome?.ok) return replayOutcome<LlmResult>(rec.step, rec.outcome!);
  const response = rec.meta.response as unknown as Partial<LlmResult> & {
    messageRef: string;
  };
  const { messageRef, ...rest } = response;
  const head = (rec.meta.request as { messagesRef?: unknown } | null)?.messagesRef;
  if (typeof head === "string")
    messageChainsOf(exec).recordedHead(Buffer.from(head, "base64url").toString("hex"));
  const reader = recordedMessagesOf(exec, host.store, () =>
    recordedAnswers(exec.journal.steps.values()),
  );
  const message = await exec.viaStore(() => reader.read(Buffer.from(messageRef, "base64url")));
  return { ...PLAIN_ANSWER, ...rest, message } as unknown as LlmResult;
}
