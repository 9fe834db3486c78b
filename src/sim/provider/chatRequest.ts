import { canonicalJson } from "../../core/json.js";

export type SimProtocol = "openai" | "anthropic";

/** A chat request as the simulator sees it, whichever wire format it came in. */
export interface SimChatRequest {
  protocol: SimProtocol;
  apiKey: string;
  /** Arrival number at this server since start or reset, from 0. */
  seq: number;
  model: string;
  messages: { role: "system" | "user" | "assistant" | "tool"; text: string }[];
  tools: { name: string; parameters: Record<string, unknown> }[];
  maxTokens: number | undefined;
  stream: boolean;
  /** Whether the OpenAI client asked for a final usage chunk. */
  streamUsage: boolean;
  /** JSON Schema the answer must match (structured output), if asked for. */
  responseSchema: Record<string, unknown> | undefined;
  /** The body as received. */
  body: Record<string, unknown>;
}

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (typeof v === "object" && v !== null ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

/** Text of a content field: a string, or a list of blocks/parts with text. */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  return arr(content)
    .map((part) => {
      const p = obj(part);
      if (typeof p.text === "string") return p.text;
      if (p.type === "tool_result") return textOf(p.content);
      if (p.type === "tool_use") return canonicalJson(p.input ?? {});
      return "";
    })
    .join("");
}

export function fromOpenAI(body: Obj, apiKey: string, seq: number): SimChatRequest {
  const messages = arr(body.messages).map((m) => {
    const msg = obj(m);
    const role = str(msg.role);
    const calls = arr(msg.tool_calls).map((c) => str(obj(obj(c).function).arguments));
    return {
      role: role === "developer" ? "system" : (role as SimChatRequest["messages"][number]["role"]),
      text: textOf(msg.content) + calls.join(""),
    };
  });
  const format = obj(body.response_format);
  const schema = format.type === "json_schema" ? obj(obj(format.json_schema).schema) : undefined;
  return {
    protocol: "openai",
    apiKey,
    seq,
    model: str(body.model),
    messages,
    tools: arr(body.tools).map((t) => {
      const fn = obj(obj(t).function);
      return { name: str(fn.name), parameters: obj(fn.parameters) };
    }),
    maxTokens: num(body.max_completion_tokens) ?? num(body.max_tokens),
    stream: body.stream === true,
    streamUsage: obj(body.stream_options).include_usage === true,
    responseSchema: schema,
    body,
  };
}

export function fromAnthropic(body: Obj, apiKey: string, seq: number): SimChatRequest {
  const system = textOf(body.system);
  const messages: SimChatRequest["messages"] = system ? [{ role: "system", text: system }] : [];
  for (const m of arr(body.messages)) {
    const msg = obj(m);
    const blocks = arr(msg.content);
    const isToolResult = blocks.length > 0 && blocks.every((b) => obj(b).type === "tool_result");
    const role = msg.role === "assistant" ? "assistant" : isToolResult ? "tool" : "user";
    messages.push({ role, text: textOf(msg.content) });
  }
  const format = obj(obj(body.output_config).format);
  const legacy = obj(body.output_format);
  const schema =
    format.type === "json_schema"
      ? obj(format.schema)
      : legacy.type === "json_schema"
        ? obj(legacy.schema)
        : undefined;
  return {
    protocol: "anthropic",
    apiKey,
    seq,
    model: str(body.model),
    messages,
    tools: arr(body.tools).map((t) => ({
      name: str(obj(t).name),
      parameters: obj(obj(t).input_schema),
    })),
    maxTokens: num(body.max_tokens),
    stream: body.stream === true,
    streamUsage: true,
    responseSchema: schema,
    body,
  };
}

/** Roughly four characters a token, like the providers' rule of thumb; deterministic. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Input tokens of a request: its messages plus the tool definitions it carries. */
export function inputTokensOf(req: SimChatRequest): number {
  return (
    promptTokens(req.messages) + req.tools.reduce((n, t) => n + estimateTokens(canonicalJson(t)), 0)
  );
}

export function promptTokens(messages: SimChatRequest["messages"]): number {
  return messages.reduce((n, m) => n + 3 + estimateTokens(m.text), 0);
}
