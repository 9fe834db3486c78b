-- Runs that could not complete, classified at capture, with what an operator needs to decide.
CREATE TABLE dead_letters (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  root_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  tenant TEXT,
  class TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  context TEXT NOT NULL,
  resolution TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX dead_letters_class ON dead_letters (status, class, created_at);
CREATE INDEX dead_letters_run ON dead_letters (run_id);

-- Spend per budget scope (a run tree, a tenant, the whole store): reserved before a call, settled after.
CREATE TABLE budget_ledger (
  scope TEXT PRIMARY KEY,
  spent_usd REAL NOT NULL DEFAULT 0,
  reserved_usd REAL NOT NULL DEFAULT 0,
  spent_tokens INTEGER NOT NULL DEFAULT 0,
  reserved_tokens INTEGER NOT NULL DEFAULT 0
);
