-- Each reservation held for an LLM attempt in flight, by the run making it.
-- One whose holder never settles it (the worker crashed) is released when the
-- run is claimed again, or once it expires, instead of shrinking its budgets
-- for good; lease renewals push the expiry out by ttl_ms.
CREATE TABLE budget_reservations (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  scopes TEXT[] NOT NULL,
  usd DOUBLE PRECISION NOT NULL,
  tokens BIGINT NOT NULL,
  ttl_ms BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX budget_reservations_run ON budget_reservations (run_id);
CREATE INDEX budget_reservations_expiry ON budget_reservations (expires_at);

-- Reservations made before this table existed cannot be told from leaked ones:
-- stop the workers before upgrading.
UPDATE budget_ledger SET reserved_usd = 0, reserved_tokens = 0;
