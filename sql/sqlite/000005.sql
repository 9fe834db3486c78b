-- Each reservation held for an LLM attempt in flight. One whose holder never
-- settles it (the worker crashed) is released once it expires, instead of
-- shrinking its budgets for good.
CREATE TABLE budget_reservations (
  id TEXT PRIMARY KEY,
  scopes TEXT NOT NULL,
  usd REAL NOT NULL,
  tokens INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX budget_reservations_expiry ON budget_reservations (expires_at);

-- Reservations made before this table existed cannot be told from leaked ones.
UPDATE budget_ledger SET reserved_usd = 0, reserved_tokens = 0;
