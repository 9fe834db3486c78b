/** The simulated services' data. Plain maps: the ledger, not this, is the evidence. */
export interface WorldState {
  sentEmails: Map<string, { to: string; subject: string; body: string }>;
  drafts: Map<string, { to: string; subject: string; body: string }>;
  events: Map<string, { title: string; start: string; attendees: string[]; cancelled: boolean }>;
  records: Map<string, { fields: Record<string, unknown>; revisions: Revision[] }>;
  charges: Map<
    string,
    { customer: string; amountCents: number; currency: string; refundId?: string }
  >;
  chatMessages: Map<string, { channel: string; text: string }>;
}

export interface Revision {
  revision: number;
  /** The fields as they were before this revision. */
  before: Record<string, unknown>;
}

export function emptyWorld(): WorldState {
  return {
    sentEmails: new Map(),
    drafts: new Map(),
    events: new Map(),
    records: new Map(),
    charges: new Map(),
    chatMessages: new Map(),
  };
}
