-- Shared state (ctx.state): versioned values in declared regions, shared by
-- every worker of the store. See sql/sqlite/000009.sql for the model.
CREATE TABLE state_regions (
  name TEXT PRIMARY KEY,
  isolation TEXT NOT NULL,
  reducer TEXT,
  declared_at BIGINT NOT NULL
);

-- A row at version 0 with no value is a placeholder: a write inserts it (if
-- absent) before locking the row, so concurrent first writes serialise on it.
CREATE TABLE state_values (
  region TEXT NOT NULL,
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  version BIGINT NOT NULL,
  value JSONB,
  all_verified BOOLEAN NOT NULL DEFAULT true,
  verified_value JSONB,
  verified_version BIGINT,
  run_id TEXT,
  step TEXT,
  agent TEXT,
  verified BOOLEAN NOT NULL DEFAULT false,
  at BIGINT NOT NULL,
  PRIMARY KEY (region, scope, key)
);

CREATE TABLE state_history (
  region TEXT NOT NULL,
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  version BIGINT NOT NULL,
  op TEXT NOT NULL,
  input JSONB,
  run_id TEXT,
  step TEXT,
  agent TEXT,
  verified BOOLEAN NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (region, scope, key, version)
);

CREATE TABLE state_ops (
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  result JSONB NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (run_id, step)
);

CREATE TABLE state_claims (
  region TEXT NOT NULL,
  item TEXT NOT NULL,
  seq BIGSERIAL,
  value JSONB NOT NULL,
  status TEXT NOT NULL,
  version BIGINT NOT NULL,
  holder_run TEXT,
  lease_expires_at BIGINT,
  attempts INTEGER NOT NULL DEFAULT 0,
  result JSONB,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (region, item)
);
CREATE INDEX state_claims_queue ON state_claims (region, status, seq);

CREATE TABLE state_watches (
  region TEXT NOT NULL,
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  after_version BIGINT NOT NULL,
  PRIMARY KEY (region, scope, key, run_id, step)
);
