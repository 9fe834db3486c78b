CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  status TEXT NOT NULL,
  parent_id TEXT,
  idempotency_key TEXT UNIQUE,
  tenant TEXT,
  input JSONB NOT NULL,
  result JSONB,
  error JSONB,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  wake_at BIGINT,
  wake_requested BOOLEAN NOT NULL DEFAULT false,
  lease_owner TEXT,
  lease_token TEXT,
  lease_expires_at BIGINT,
  cancel_requested BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX runs_claimable ON runs (status, wake_at);
CREATE INDEX runs_parent ON runs (parent_id);

CREATE TABLE events (
  id BIGSERIAL PRIMARY KEY,
  run_id TEXT NOT NULL,
  type TEXT NOT NULL,
  step TEXT,
  data JSONB NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX events_run ON events (run_id, id);

CREATE TABLE blobs (
  hash BYTEA PRIMARY KEY,
  data BYTEA NOT NULL
);

CREATE TABLE effects (
  key TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  tool TEXT NOT NULL,
  state TEXT NOT NULL,
  result JSONB,
  updated_at BIGINT NOT NULL
);
CREATE INDEX effects_run ON effects (run_id);

CREATE TABLE signals (
  id BIGSERIAL PRIMARY KEY,
  run_id TEXT NOT NULL,
  name TEXT NOT NULL,
  payload JSONB NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX signals_run ON signals (run_id, id);
